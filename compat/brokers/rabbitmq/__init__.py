"""The RabbitMQ broker (``amqp://``, ``pyamqp://``, ``amqps://``): Dramatiq's RabbitmqBroker behind the seam.

``urls`` (Celery's URL spellings, failover lists, TLS), ``broker`` (confirmed publishes, batches, native
priorities, quorum queues), ``consumer`` (pushed deliveries, message checks, poison messages),
``inspector`` (queue depths) and ``upkeep`` (the worker's thread watch and dead-letter pruning). Results,
dead letters, revocations, control and metrics stay in the result backend's Redis.

RabbitMQ keeps none of the facade's own stores, so an ``amqp://`` app needs a Redis for them: its result
backend's, or ``stores_url``'s when the result backend is not Redis (``django-db``, ``django-cache``,
``cache+memory://``, none). Without one the app is refused when its broker is built (a worker at boot, a
producer at its first send), naming what would be missing; ``stores_url = False`` runs without them. In a
Django project ``manage.py check`` reports it first (``compat_django.E001``, ``contrib/django/checks.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ...exceptions import ImproperlyConfigured
from ..producers import ProducerSlots
from .broker import DEFAULT_MAX_PRIORITY, CompatRabbitmqBroker
from .urls import from_conf

logger = logging.getLogger("compat.broker")


def make(app: Any, url: str, middleware: list) -> CompatRabbitmqBroker:
    """The broker for a RabbitMQ URL (or a ``;``-separated failover list); publishes on at most
    ``broker_pool_limit`` connections (``producers.py``)."""
    try:
        import pika  # noqa: F401
    except ImportError:  # pragma: no cover - pika is a runtime dependency
        raise ImproperlyConfigured("amqp:// brokers need pika: pip install 'pika>=1.3,<2'") from None
    from ...deadletters import bury_raw, count_redelivery
    from ...stores import redis_for
    from .upkeep import Upkeep

    pika_logger = logging.getLogger("pika")
    if pika_logger.level == logging.NOTSET:
        # pika logs each channel opened (INFO) and each failed connection attempt (a dozen ERROR lines);
        # a producer gets OperationalError and a worker logs one line per outage (brokers/outage.py).
        pika_logger.setLevel(logging.CRITICAL)
    conf = app.conf
    limit = int(conf.worker_max_redeliveries)
    max_priority = conf.task_queue_max_priority
    if max_priority is None:
        max_priority = DEFAULT_MAX_PRIORITY
    if not isinstance(max_priority, int) or not 0 <= max_priority <= 255:
        raise ImproperlyConfigured(
            f"task_queue_max_priority must be a number from 0 to 255, not {max_priority!r}"
        )

    def redelivered(message_id: str, queue_name: str) -> int:
        return count_redelivery(app, message_id)

    def unfit(body: bytes, reason: str, runnable: bool) -> None:
        if redis_for(app) is None:
            raise LookupError("no dead-letter store")
        bury_raw(app, body, reason, runnable=runnable)

    stores = redis_for(app) is not None
    if not stores:
        refuse_without_stores(app, url.split("://", 1)[0] + "://")
    broker = CompatRabbitmqBroker(
        parameters=from_conf(conf, url),
        middleware=[*middleware, Upkeep(app)],
        queue_type=str(conf.task_default_queue_type or "classic"),
        max_priority=max_priority,
        delivery_limit=limit,
        max_message_bytes=int(conf.task_message_max_bytes or 0),
        unfit=unfit,
        redelivered=redelivered if stores else None,  # classic queues: no count, no cap, without stores
        max_redeliveries=limit,
        producers=ProducerSlots.from_conf(conf),
        confirm_each=_confirm_publish(conf),
    )
    broker.management_url = conf.broker_management_url
    return broker


def _confirm_publish(conf: Any) -> bool:
    """kombu's ``broker_transport_options['confirm_publish']``: every send waits for its confirm."""
    options = conf.get("broker_transport_options") or {}
    value = options.get("confirm_publish", False) if isinstance(options, Mapping) else False
    if not isinstance(value, bool):
        raise ImproperlyConfigured(
            f"broker_transport_options['confirm_publish'] must be True or False, not {value!r}"
        )
    return value


#: what an ``amqp://`` app without a Redis for the facade's stores does not have
WITHOUT_STORES = (
    "app.control and inspect, revocations that reach other worker processes, dead letters (and the "
    "poison-message cap of classic queues), alerts, task metrics (the dashboard) and the scheduler's "
    "leader lease"
)


def refuse_without_stores(app: Any, scheme: str) -> None:
    """Refuse an amqp:// app with no Redis for the facade's stores, unless ``stores_url`` is False (also
    what ``manage.py check`` reports: ``compat.contrib.django.checks``)."""
    backend = app.conf.result_backend
    if app.conf.stores_url is False:
        logger.warning(
            "broker %s with result_backend %r and stores_url=False: %s are off",
            scheme,
            backend,
            WITHOUT_STORES,
        )
        return
    raise ImproperlyConfigured(
        f"broker {scheme} with result_backend {backend!r}: {WITHOUT_STORES} need a Redis, and neither "
        "the broker nor the result backend is one. Set stores_url (CELERY_STORES_URL in Django settings) "
        "to a redis:// URL and keep your result backend, or use a redis:// result backend; "
        "stores_url=False runs without them (docs/compat.md, Brokers: Redis or RabbitMQ)."
    )


__all__ = ["CompatRabbitmqBroker", "make", "refuse_without_stores"]

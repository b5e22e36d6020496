"""Every broker behind one seam: the URL scheme picks a factory, the factory builds the broker.

``base`` is the contract the rest of compat relies on (hook dispatch, batch enqueue, connection errors,
per-delivery options, a queue inspector); ``redis`` and ``stub`` implement it. A new broker is one module
with a factory ``(app, url, middleware) -> broker`` and one row in ``FACTORIES``.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from .. import runs, serialization
from ..config import DEFAULT_BROKER_URL, load_object
from ..exceptions import ImproperlyConfigured
from ..middleware import facade_middleware
from ..task import Task

#: URL scheme -> ``"module:factory"``, imported only when used (a broker's client library is optional).
FACTORIES: dict[str, str] = {
    "redis": "compat.brokers.redis:make",
    "rediss": "compat.brokers.redis:make",
    "unix": "compat.brokers.redis:make",
    "memory": "compat.brokers.stub:make",
    "amqp": "compat.brokers.rabbitmq:make",
    "pyamqp": "compat.brokers.rabbitmq:make",
    "amqps": "compat.brokers.rabbitmq:make",
}


def broker_scheme(url: Any) -> str:
    """The scheme of a broker URL setting ('' without one); a failover list (a list, or ``;``-separated
    URLs) is one broker, its first URL's kind."""
    if isinstance(url, (list, tuple)):
        url = url[0] if url else ""
    url = str(url or "")
    return url.partition("://")[0] if "://" in url else ""


def is_rabbitmq(url: Any) -> bool:
    """Whether a broker URL setting selects the RabbitMQ broker."""
    return FACTORIES.get(broker_scheme(url)) == FACTORIES["amqp"]


def make_broker(app: Any) -> dramatiq.Broker:
    """The broker for ``app.conf.broker_url`` with the facade's middleware (Redis when none is set)."""
    dramatiq.set_encoder(serialization.MessageEncoder())
    url = app.conf.broker_url or DEFAULT_BROKER_URL
    if isinstance(url, (list, tuple)):  # Celery's list of failover brokers
        url = ";".join(url)
    factory = FACTORIES.get(broker_scheme(url))
    if factory is None:
        schemes = [f"{name}://" for name in FACTORIES]
        raise ImproperlyConfigured(
            f"Unsupported broker URL {url!r}: use {', '.join(schemes[:-1])} or {schemes[-1]}"
        )
    broker = load_object(factory)(app, url, facade_middleware(app))
    logging.getLogger("dramatiq.worker.WorkerThread").addFilter(_FacadeResultsNotice(broker))
    _install_results_check()
    return broker


def _install_results_check() -> None:
    """Dramatiq's worker asks ``has_results_middleware(broker)`` after every actor that returned a value,
    and logs its "returned a value" warning when it is False: a log record built (and then dropped by
    ``_FacadeResultsNotice``) for every facade task whose result is stored, about 5% of a worker's time
    for a trivial task. A facade task's result is stored by ``TaskState``: the check says True for it,
    and asks Dramatiq's own check for everything else (plain actors still get the warning)."""
    import dramatiq.worker as worker

    stock = worker.has_results_middleware
    if getattr(stock, "_facade", False):
        return

    def has_results_middleware(broker: Any) -> bool:
        return runs.body_returned() or stock(broker)

    has_results_middleware._facade = True  # type: ignore[attr-defined]
    worker.has_results_middleware = has_results_middleware


class _FacadeResultsNotice(logging.Filter):
    """Drops Dramatiq's "returned a value ... no Results middleware" warning for facade tasks.

    Facade tasks store their results in the app's state store, so that warning is wrong for them; plain
    actors on the same broker still get it.
    """

    def __init__(self, broker: dramatiq.Broker) -> None:
        super().__init__()
        self.broker = broker

    def filter(self, record: logging.LogRecord) -> bool:
        # Only that warning is formatted here: formatting other records (a message with malformed fields)
        # may raise, and an exception in a filter would kill the worker thread that logs.
        if "returned a value that is not None" not in str(record.msg):
            return True
        text = record.getMessage()
        name = text.split("'", 2)[1] if text.count("'") >= 2 else ""
        return not isinstance(self.broker.actors.get(name), Task)

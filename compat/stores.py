"""The Redis of the facade's own stores: dead letters, the alert digest and task metrics.

They live beside the task states, in the Redis of ``result_backend``, and share the result store's
connection pool: whatever the broker is, a task that fails for good is kept. An app whose result backend
is not Redis (none, ``cache+memory://``, ``django-db``, ``django-cache``) keeps them in the Redis that
``stores_url`` names, else in the one ``broker_url`` names, when it names one, through a connection of its
own (never the broker's). With none of them there is no store: dead letters, digests and metrics are off,
as in a ``memory://`` test app; an ``amqp://`` broker refuses that unless ``stores_url`` is ``False``
(``compat.brokers.rabbitmq``).

Keys stay under ``broker_namespace`` (``<ns>:deadletters``, ``<ns>:alerts:*``, ``<ns>:metrics:*``), so
moving the broker elsewhere moves none of them.
"""

from __future__ import annotations

from typing import Any

import redis

from .config import DEFAULT_BROKER_URL
from .exceptions import ImproperlyConfigured

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_url(url: Any) -> bool:
    """Whether a URL setting names a Redis (a failover list, None, False or ``django-db`` do not)."""
    return isinstance(url, str) and url.startswith(REDIS_SCHEMES)


def stores_url(backend: Any, stores: Any, broker: Any) -> str | None:
    """The URL of the Redis the stores use, from the ``result_backend``, ``stores_url`` and ``broker_url``
    settings: the result backend's when it is a Redis, else ``stores_url``'s (which must be one), else the
    broker's when it is one; None when there is none. Projects that put keys of their own beside the
    stores (Threads' settings) ask this rather than repeat the rule."""
    if is_redis_url(backend):
        return backend
    if stores:
        if not is_redis_url(stores):
            raise ImproperlyConfigured(
                f"stores_url must be a redis://, rediss:// or unix:// URL, not {stores!r}"
            )
        return stores
    return broker if is_redis_url(broker) else None


def redis_for(app: Any) -> redis.Redis | None:
    """The Redis client the app's dead-letter, alert and metrics stores use, or None when there is none."""
    client = getattr(app.backend, "client", None)
    if client is not None:
        return client
    url = stores_url(None, app.conf.stores_url, app.conf.broker_url or DEFAULT_BROKER_URL)
    if url is None:
        return None
    cached = app.__dict__.get("_stores_redis")
    if cached is None or cached[0] != url:
        cached = app._stores_redis = (url, redis.Redis.from_url(url))
    return cached[1]

"""Which Redis each part of Threads uses, from the settings' URLs (read by the settings and the launcher).

The facade keeps its stores in the result backend's Redis, else in ``CELERY_STORES_URL``'s, else in the
broker's (``compat.stores.stores_url``, asked here, not repeated); the app's own keys and Django's cache go
to ``THREADS_REDIS_URL``, else to that same Redis. An ``amqp://`` broker is never one, so with RabbitMQ
some other setting must name a Redis.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured


def scheme(url: Any) -> str:
    """The scheme of a URL setting ('' for anything that is not a URL: None, False, 'django-db')."""
    return str(url).partition("://")[0] if isinstance(url, str) and "://" in url else ""


def is_redis(url: Any) -> bool:
    """Whether the setting names a Redis (the facade's reading, ``compat.stores``)."""
    from compat.stores import is_redis_url

    return is_redis_url(url)


def is_amqp(url: Any) -> bool:
    """Whether the setting names RabbitMQ (one URL, or Celery's `;`-separated failover list): the
    facade's own reading of a broker URL."""
    from compat.brokers import is_rabbitmq

    return is_rabbitmq(url)


def stores_setting(value: str | None) -> str | bool | None:
    """CELERY_STORES_URL's value as the facade's ``stores_url``: a URL, None (unset), or False (a boolean
    false: run without the stores)."""
    value = (value or "").strip()
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    return value or None


def app_redis_url(explicit: str | None, backend: str, stores: str | bool | None, broker: str) -> str:
    """The Redis of the app's own keys: THREADS_REDIS_URL, else the Redis the facade keeps its stores in
    (the result backend's, CELERY_STORES_URL's, the broker's), which an amqp:// broker is not."""
    if explicit:
        if not is_redis(explicit):
            raise ImproperlyConfigured(
                f"THREADS_REDIS_URL must be a redis://, rediss:// or unix:// URL, not {scheme(explicit)}://"
            )
        return explicit
    from compat.exceptions import ImproperlyConfigured as FacadeImproperlyConfigured
    from compat.stores import stores_url

    try:
        url = stores_url(backend, stores, broker)
    except FacadeImproperlyConfigured as error:  # CELERY_STORES_URL is not a Redis
        raise ImproperlyConfigured(f"CELERY_STORES_URL: {error}") from None
    if url is not None:
        return url
    named = ", ".join(f"{name} ({_kind(url)})" for name, url in (
        ("CELERY_RESULT_BACKEND", backend), ("CELERY_STORES_URL", stores), ("CELERY_BROKER_URL", broker)))
    raise ImproperlyConfigured(
        f"THREADS_REDIS_URL is unset and none of {named} is a Redis: set THREADS_REDIS_URL to a redis:// URL "
        "for the app's own keys (counter deltas, the AI rate limit, Django's cache)"
    )


def _kind(url: object) -> str:
    """A setting's scheme (never its credentials), or the value itself when it is no URL."""
    return f"{scheme(url)}://" if scheme(url) else repr(url)

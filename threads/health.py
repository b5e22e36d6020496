"""Pings for `/healthz` and the launcher: the broker (Redis or RabbitMQ) and the Redis servers beside it.

Each ping is one short connection with a timeout, and says None when the server answers, else the error
text. With an ``amqp://`` broker the results, the facade's stores and the app's own keys live in a Redis
that is another server, so the health check pings that too (``servers``), once per server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import redis

from threads.redis_urls import is_amqp, is_redis, scheme


def ping_redis(url: str | redis.Redis, timeout: float = 2.0) -> str | None:
    """PING the Redis at `url` (or the server of a client: on a connection of its own, with `timeout`)."""
    try:
        client = _timed_client(url, timeout)
    except ValueError as exc:
        return _reason(exc)
    try:
        client.ping()
        return None
    except (redis.RedisError, OSError, ValueError) as exc:
        return _reason(exc)
    finally:
        client.connection_pool.disconnect()


def ping_amqp(url: str, timeout: float = 2.0, use_ssl: Any = False) -> str | None:
    """Open (and close) an AMQP connection to the broker at `url`; of a failover list, any one answering
    is enough, as it is for the producers. TLS as `amqps://` or `broker_use_ssl` ask."""
    import pika
    import pika.exceptions

    from compat.brokers.rabbitmq.urls import parameters, split_urls
    from compat.exceptions import ImproperlyConfigured

    errors = []
    try:
        candidates = [parameters(item, use_ssl=use_ssl, timeout=timeout) for item in split_urls(url)]
    except ImproperlyConfigured as exc:
        return str(exc)
    for params in candidates:
        params.connection_attempts, params.socket_timeout, params.stack_timeout = 1, timeout, timeout
        params.blocked_connection_timeout = timeout
        try:
            pika.BlockingConnection(params).close()
            return None
        except (pika.exceptions.AMQPError, OSError) as exc:
            errors.append(f"{params.host}:{params.port}: {_reason(exc)}")
    return "; ".join(errors)


def ping_broker(url: Any, timeout: float = 2.0, use_ssl: Any = False) -> str | None:
    """Ping the broker `url` names, Redis or RabbitMQ."""
    if is_redis(url):
        return ping_redis(url, timeout)
    if is_amqp(url):
        return ping_amqp(url, timeout, use_ssl)
    return f"{scheme(url) or url!r}: not a broker URL (use redis:// or amqp://)"


def server(url: str | redis.Redis) -> tuple:
    """Which server a URL (or a Redis client) names, whatever its database number, credentials or options."""
    if isinstance(url, str) and not is_redis(url):
        parts = urlsplit(url.split(";", 1)[0])
        try:
            return (scheme(url), parts.hostname, parts.port)
        except ValueError:
            return (url,)
    try:
        found = _connection_kwargs(url)
    except ValueError:
        return (url,)
    return ("redis", found["path"]) if "path" in found else ("redis", found.get("host"), found.get("port"))


def servers(named: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Of (name, URL or client) pairs, the first of each distinct server, by name (empty ones skipped)."""
    seen: dict[tuple, tuple[str, Any]] = {}
    for name, url in named:
        if isinstance(url, (str, redis.Redis)) and url:
            seen.setdefault(server(url), (name, url))
    return dict(seen.values())


def _connection_kwargs(url: str | redis.Redis) -> dict[str, Any]:
    if isinstance(url, redis.Redis):
        return dict(url.connection_pool.connection_kwargs)
    return dict(redis.ConnectionPool.from_url(url).connection_kwargs)


def _timed_client(url: str | redis.Redis, timeout: float) -> redis.Redis:
    """A client of its own for the server of `url`, whose connect and reads give up after `timeout`."""
    if isinstance(url, str):
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    kwargs = {**_connection_kwargs(url), "socket_timeout": timeout, "socket_connect_timeout": timeout}
    pool = redis.ConnectionPool(connection_class=url.connection_pool.connection_class, **kwargs)
    return redis.Redis(connection_pool=pool)


def _reason(exc: BaseException) -> str:
    """One line: the exception's type and text (pika's connection errors have no text: their repr says it)."""
    text = str(exc).strip()
    if not text:
        return repr(exc).splitlines()[0] if exc.args else type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0]}"

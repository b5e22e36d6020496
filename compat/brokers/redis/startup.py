"""A worker's first connection to the broker's Redis, retried (or not) as Celery's worker retries it.

Celery's worker connects before it consumes: with ``broker_connection_retry_on_startup`` (when unset,
``broker_connection_retry``; both default to retrying) a failed connection is tried again after 2, 4,
6, ... seconds (at most 30), ``broker_connection_max_retries`` times (100; 0 or None: forever), then the
worker gives up; without retries the first failure stops it. Here each worker process pings the Redis
before its worker threads start and, when it gives up, raises ``BrokerUnreachable``: ``dramatiq`` exits
with status 3 ("broker connection failed during worker startup") and stops the other processes.
``broker_connection_timeout`` (4 s) bounds each connection attempt (``socket_connect_timeout``).

After startup, a lost connection is always re-established (the consumers restart quietly, see
``compat.brokers.outage``), whatever ``broker_connection_retry`` says: docs/compat.md, Worker settings.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from dramatiq.errors import ConnectionFailed
from dramatiq.middleware import Middleware, MiddlewareError

logger = logging.getLogger("compat.broker")

#: kombu's ``ensure_connection`` schedule: start, step and ceiling of the pause between attempts (s).
INTERVAL_START, INTERVAL_STEP, INTERVAL_MAX = 2.0, 2.0, 30.0


class BrokerUnreachable(MiddlewareError, ConnectionFailed):
    """The worker gave up connecting at startup (a ``MiddlewareError``, so the hook does not swallow it,
    and a Dramatiq ``ConnectionError``, so the CLI exits with its connection status)."""


def startup_policy(conf: Any) -> tuple[bool, int | None]:
    """``(retry, max_retries)`` for the first connection, from Celery's three settings."""
    on_startup = conf.get("broker_connection_retry_on_startup")
    retry = conf.get("broker_connection_retry", True) if on_startup is None else on_startup
    max_retries = conf.get("broker_connection_max_retries", 100)
    return bool(retry), (int(max_retries) if max_retries else None)


def pauses() -> Iterator[float]:
    """2, 4, 6, ... 30, 30, ... seconds."""
    return (min(INTERVAL_START + INTERVAL_STEP * n, INTERVAL_MAX) for n in itertools.count())


def connect_at_startup(
    ping: Callable[[], Any],
    url: str,
    retry: bool,
    max_retries: int | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Ping until it answers; the number of retries it took. Raises ``BrokerUnreachable`` on giving up."""
    schedule = pauses()
    for attempt in itertools.count():
        try:
            ping()
            return attempt
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if not retry or (max_retries is not None and attempt >= max_retries):
                logger.critical("consumer: Cannot connect to %s: %s. Giving up.", url, exc)
                raise BrokerUnreachable(f"cannot connect to {url}: {exc}") from exc
            pause = next(schedule)
            limit = max_retries if max_retries is not None else "Inf"
            logger.error(
                "consumer: Cannot connect to %s: %s.\nTrying again in %.2f seconds... (%d/%s)",
                url, exc, pause, attempt + 1, limit,
            )
            sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


class StartupConnection(Middleware):
    """Before a worker process starts consuming, connect to the broker's Redis (Celery's retry policy)."""

    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url

    def before_worker_boot(self, broker, worker):
        retry, max_retries = startup_policy(self.app.conf)
        connect_at_startup(broker.client.ping, _safe(self.url), retry, max_retries)


def _safe(url: str) -> str:
    """The URL without its password, for logs (as kombu's ``as_uri()`` shows it)."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:**@{host}" if ":" in credentials else url

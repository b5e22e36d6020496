"""The Redis connections a process publishes on, apart from its consumers' (``brokers/producers.py``).

With ``broker_pool_limit = N`` a process publishes on a connection pool of its own, at most N connections,
and every publish holds one of N slots first, so the pool never needs more. With 0 or None there is no
pool, as in Celery: each publish connects and the connection is closed after it.
"""

from __future__ import annotations

from typing import Any

import redis

from ..producers import ProducerSlots


class OneUsePool(redis.ConnectionPool):
    """A pool that keeps nothing: a connection closes when it is given back (the next use reconnects)."""

    def release(self, connection: Any) -> None:
        connection.disconnect()
        super().release(connection)


def producer_client(url: str, slots: ProducerSlots, **connection_kwargs: Any) -> redis.Redis:
    """The client a process publishes with: up to ``slots.limit`` connections, or one per use."""
    if slots.pooled:
        pool = redis.ConnectionPool.from_url(url, max_connections=slots.limit, **connection_kwargs)
    else:
        pool = OneUsePool.from_url(url, **connection_kwargs)
    return redis.Redis(connection_pool=pool)

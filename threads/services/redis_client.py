"""The app's own Redis connection (counter deltas, rate limits): ``THREADS_REDIS_URL``, read live."""

from __future__ import annotations

import functools

import redis
from django.conf import settings

#: What a call raises when this Redis cannot be reached (down, restarting, or too slow to answer).
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


@functools.lru_cache(maxsize=8)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30)


def client() -> redis.Redis:
    """A (pooled) client for ``settings.THREADS_REDIS_URL``."""
    return _client_for(settings.THREADS_REDIS_URL)


def key(*parts: object) -> str:
    """``THREADS_REDIS_PREFIX`` followed by ``parts`` joined with ':'."""
    return settings.THREADS_REDIS_PREFIX + ":".join(str(part) for part in parts)

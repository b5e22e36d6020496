"""What every stack's tasks do besides their own work: count completions and record timestamps.

All three stacks call the same functions, so this cost is the same for each of them and is subtracted
from the per-message Redis figures. Keys live under ``BENCH_PREFIX`` on the bench Redis.
"""

from __future__ import annotations

import os
import time

import redis

PREFIX = os.environ.get("BENCH_PREFIX", "bench")
URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
#: what the stacks send through: the bench Redis, or this run's RabbitMQ vhost (``--broker rabbitmq``)
BROKER = os.environ.get("BENCH_BROKER_URL") or URL
ON_RABBITMQ = BROKER.startswith("amqp")
DONE = f"{PREFIX}:ctr:done"
FIRST = f"{PREFIX}:ctr:first"
LATENCY = f"{PREFIX}:ctr:lat"

_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(URL)
    return _client


def done() -> None:
    """Count one completion; the first one also records its time (INCR, plus one SET per phase)."""
    if client().incr(DONE) == 1:
        client().set(FIRST, repr(time.time()))


def started(sent_at: float) -> None:
    """Record how long after ``sent_at`` this task started, then count it."""
    client().rpush(LATENCY, repr(time.time() - sent_at))
    done()

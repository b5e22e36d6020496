"""Dramatiq + Results, CurrentMessage and GroupCallbacks middleware; also a worker module.

Not stock Dramatiq (``bench.stack_dramatiq`` is): this is the Dramatiq set-up that can do what the
facade does (read results back, pipelines, group completion callbacks, know a message's retry count),
so it is the baseline for the canvas and latency workloads. Its ``trivial_r`` stores its result.
"""

from __future__ import annotations

import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimitBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from . import counters, marks

NAMESPACE = f"{counters.PREFIX}-dramatiqr"
broker = RedisBroker(url=counters.URL, namespace=NAMESPACE)
results = RedisBackend(url=counters.URL, namespace=f"{NAMESPACE}-r")
broker.add_middleware(Results(backend=results, result_ttl=86_400_000))
broker.add_middleware(CurrentMessage())
broker.add_middleware(GroupCallbacks(RateLimitBackend(url=counters.URL)))
dramatiq.set_broker(broker)

actor = dramatiq.actor


@actor(actor_name="bench.trivial", queue_name="bench", broker=broker)
def trivial(num):
    marks.mark()


@actor(actor_name="bench.trivial_r", queue_name="bench", broker=broker, store_results=True)
def trivial_r(num):
    marks.mark()
    return num


@actor(actor_name="bench.noop", queue_name="bench", broker=broker)
def noop():
    counters.done()


@actor(actor_name="bench.noop_r", queue_name="bench", broker=broker, store_results=True)
def noop_r():
    counters.done()


@actor(actor_name="bench.payload", queue_name="bench", broker=broker)
def payload(data):
    counters.done()


@actor(actor_name="bench.stamp", queue_name="bench", broker=broker)
def stamp(sent_at):
    counters.started(sent_at)


@actor(actor_name="bench.timed", queue_name="bench", broker=broker, store_results=True)
def timed(sent_at):
    start = time.time()
    return [start, time.time()]


@actor(actor_name="bench.step", queue_name="bench", broker=broker, store_results=True)
def step(value=None):
    return value


@actor(actor_name="bench.collect", queue_name="bench", broker=broker, store_results=True)
def collect():
    return 0


class Flaky(Exception):
    pass


@actor(
    actor_name="bench.flaky",
    queue_name="bench",
    broker=broker,
    max_retries=3,
    min_backoff=10,
    max_backoff=10,
    throws=(),
)
def flaky(i):
    message = CurrentMessage.get_current_message()
    if i % 2 == 0 and message.options.get("retries", 0) == 0:
        raise Flaky("retry once")
    counters.done()

"""Stock Dramatiq: ``RedisBroker`` with its default middleware, no results; also a worker module.

This is what a user gets from ``pip install dramatiq[redis]`` and ``@dramatiq.actor``: no Results, no
CurrentMessage, no GroupCallbacks (``bench.stack_dramatiq_results`` is the one carrying those). With no
result backend it cannot run the workloads that read a result back (idle latency, canvas); those show
``-`` in its column.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from . import counters, marks

NAMESPACE = f"{counters.PREFIX}-dramatiq"
broker = RedisBroker(url=counters.URL, namespace=NAMESPACE)
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="bench.trivial", queue_name="bench", broker=broker)
def trivial(num):
    marks.mark()


@dramatiq.actor(actor_name="bench.noop", queue_name="bench", broker=broker)
def noop():
    counters.done()


@dramatiq.actor(actor_name="bench.payload", queue_name="bench", broker=broker)
def payload(data):
    counters.done()


@dramatiq.actor(actor_name="bench.stamp", queue_name="bench", broker=broker)
def stamp(sent_at):
    counters.started(sent_at)

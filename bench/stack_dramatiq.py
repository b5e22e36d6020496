"""Stock Dramatiq: ``RedisBroker`` (or ``RabbitmqBroker``), default middleware, no results; a worker module.

This is what a user gets from ``pip install dramatiq[redis]`` and ``@dramatiq.actor``: no Results, no
CurrentMessage, no GroupCallbacks (``bench.stack_dramatiq_results`` is the one carrying those). With no
result backend it cannot run the workloads that read a result back (idle latency, canvas); those show
``-`` in its column. With ``--broker rabbitmq`` it is Dramatiq's ``RabbitmqBroker`` with its defaults (no
publisher confirms, no ``x-max-priority``), on the run's vhost; with ``BENCH_DRAMATIQ_CONFIRMS=1`` (the
``dramatiq-confirms`` stack) it confirms every publish and declares ``x-max-priority`` 10, as compat's
RabbitMQ broker does, so that the gap between the two columns is what those guarantees cost.
"""

from __future__ import annotations

import os

import dramatiq

from . import counters, marks

NAMESPACE = f"{counters.PREFIX}-dramatiq"
if counters.ON_RABBITMQ:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    confirms = os.environ.get("BENCH_DRAMATIQ_CONFIRMS") == "1"
    broker = RabbitmqBroker(
        url=counters.BROKER, confirm_delivery=confirms, max_priority=10 if confirms else None
    )
else:
    from dramatiq.brokers.redis import RedisBroker

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

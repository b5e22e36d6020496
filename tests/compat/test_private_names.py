"""The private names of Dramatiq and pika that compat builds on, as compat uses them.

Each is used on purpose (the module says why); a Dramatiq or pika release that renames or reshapes one
must fail here, by name, before it fails somewhere in a worker. ``runtime/pyproject.toml`` keeps Dramatiq
below its next minor release for the same reason.
"""

from __future__ import annotations

import dataclasses
import inspect

import dramatiq.worker
import pika.adapters.blocking_connection as blocking
import pika.channel
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.middleware.time_limit import _CtypesTimeoutManager


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_dramatiq_worker_threads_and_work_queue_item():
    # brokers/producers.py tells a consumer thread (moving a due delayed message) from a publisher;
    # worker_queue.py subclasses the work queue item to read a None priority as 0.
    assert issubclass(dramatiq.worker._ConsumerThread, dramatiq.worker.Thread)
    fields = [field.name for field in dataclasses.fields(dramatiq.worker._WorkQueueItem)]
    assert fields[:2] == ["priority", "message"], fields  # WorkQueueItem passes them positionally


def test_dramatiq_consumers_compat_subclasses():
    # brokers/redis/consumer.py and brokers/rabbitmq/consumer.py extend them: the methods they rely on.
    for consumer in (_RedisConsumer, _RabbitmqConsumer):
        for name in ("ack", "nack", "requeue", "__next__"):
            assert callable(getattr(consumer, name)), (consumer, name)
    assert parameters(_RabbitmqConsumer.__init__) == ["self", "broker", "queue_name", "prefetch", "timeout"]


def test_dramatiq_time_limit_manager():
    # middleware/time_limit.py reuses the ctypes manager that raises TimeLimitExceeded in a thread.
    assert {"_handle_deadlines", "add_timeout", "remove_timeout"} <= set(vars(_CtypesTimeoutManager))


def test_pika_blocking_channel_underlying_channel_takes_confirms_without_waiting():
    # brokers/rabbitmq/confirms.py: confirm mode with our own ack/nack callback, and return callbacks.
    assert "_impl" in inspect.getsource(blocking.BlockingChannel.__init__)
    assert parameters(pika.channel.Channel.confirm_delivery)[:3] == ["self", "ack_nack_callback", "callback"]
    assert parameters(pika.channel.Channel.add_on_return_callback) == ["self", "callback"]


def test_dramatiq_worker_work_queue_counts_unfinished_messages():
    # middleware/state.py: a success is written at once only when the worker holds no other message
    # (``work_queue.unfinished_tasks``: queued or running), else by the writer thread.
    from dramatiq.brokers.stub import StubBroker

    worker = dramatiq.worker.Worker(StubBroker(), worker_threads=1)
    assert worker.work_queue.unfinished_tasks == 0

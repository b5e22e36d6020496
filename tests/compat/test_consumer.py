"""The facade consumer on a real Redis: a full prefetch waits for a batch of free slots, woken by acks."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from compat.brokers.redis import CompatRedisBroker


@pytest.fixture
def broker(redis_url, redis_namespace):
    broker = CompatRedisBroker(url=redis_url, namespace=redis_namespace.rstrip(":"), middleware=[])
    broker.declare_queue("q")
    yield broker
    broker.close()


def test_full_prefetch_waits_for_acks_then_fetches_a_batch(broker):
    messages = [Message(queue_name="q", actor_name="a", args=(i,), kwargs={}, options={}) for i in range(20)]
    broker.enqueue_many([(message, None) for message in messages])
    consumer = broker.consume("q", prefetch=8)
    fetches: list[int] = []
    fetch = broker.fetch
    broker.fetch = lambda name, count, acks=None: fetches.append(count) or fetch(name, count, acks)

    held = [next(consumer) for _ in range(8)]
    assert [m.args[0] for m in held] == list(range(8)) and fetches == [8]
    assert next(consumer) is None and fetches == [8]  # full: no fetch, a bounded wait

    consumer.FULL_WAIT = 5.0
    threading.Timer(0.05, lambda: [consumer.ack(m) for m in held[:2]]).start()
    started = time.monotonic()
    assert next(consumer) is None  # woken by the acks, well before the 5 s cap
    assert time.monotonic() - started < 2.0
    batch = [next(consumer), next(consumer)]
    assert [m.args[0] for m in batch] == [8, 9] and fetches == [8, 2]  # the freed slots in one fetch


def test_after_one_wait_a_single_free_slot_is_enough(broker):
    broker.enqueue_many(
        [(Message(queue_name="q", actor_name="a", args=(i,), kwargs={}, options={}), None) for i in range(12)]
    )
    consumer = broker.consume("q", prefetch=8)  # refills once 2 slots are free
    held = [next(consumer) for _ in range(8)]
    consumer.ack(held[0])  # one free slot, e.g. the rest are delayed messages held for a long time
    consumer.FULL_WAIT = 0.05
    assert next(consumer) is None  # first: wait for a batch
    message = next(consumer)  # then: take what fits rather than waiting again
    assert message is not None and message.args[0] == 8


def test_wake_list_is_bounded_and_an_idle_consumer_wakes_on_enqueue(broker):
    wake = broker.wake_key("q")
    for i in range(40):  # no consumer: tokens pile up only to the cap
        broker.enqueue(Message(queue_name="q", actor_name="a", args=(i,), kwargs={}, options={}))
    assert broker.client.llen(wake) == 16
    consumer = broker.consume("q", prefetch=64)
    drained = [next(consumer) for _ in range(40)]
    assert [m.args[0] for m in drained] == list(range(40))
    broker.client.delete(wake)  # as after idle consumers took the tokens

    consumer.broker.idle_wait = 5.0
    threading.Timer(0.1, lambda: broker.enqueue(Message("q", "a", ("late",), {}, {}))).start()
    started = time.monotonic()
    assert next(consumer) is None  # idle: blocked on the wake list until the enqueue
    assert time.monotonic() - started < 2.0  # woken, not the 5 s idle wait
    assert next(consumer).args == ("late",)


def test_enqueue_runs_middleware_hooks_as_dramatiq_does(broker, caplog):
    calls: list[tuple[str, str]] = []

    class Hooks(Middleware):
        def __init__(self, name: str, fail: bool = False) -> None:
            self.name, self.fail = name, fail

        def before_enqueue(self, broker, message, delay):
            calls.append(("before", self.name))
            if self.fail:
                raise RuntimeError("hook bug")

        def after_enqueue(self, broker, message, delay):
            calls.append(("after", self.name))

    broker.add_middleware(Hooks("a", fail=True))
    broker.add_middleware(Hooks("b"))
    with caplog.at_level(logging.CRITICAL):
        broker.enqueue(Message(queue_name="q", actor_name="a", args=(), kwargs={}, options={}))
    assert calls == [("before", "a"), ("before", "b"), ("after", "b"), ("after", "a")]
    assert "Unexpected failure in before_enqueue" in caplog.text  # logged, and the message still went out
    assert broker.client.llen(f"{broker.namespace}:q") == 1

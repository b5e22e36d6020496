"""Acknowledgements carried by the consumer's next fetch (``compat/brokers/redis/acks.py``) and success
writes sent by the writer thread (``compat/results/writer.py``), on a real Redis.

Under load a worker thread's acknowledgement waits for its consumer's next fetch and rides in that
script call; an idle worker's goes at once; a worker killed with acknowledgements or success writes still
waiting loses nothing: their messages are still in its ack set, and they run again elsewhere.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from dramatiq.message import Message

from compat.brokers.redis import CompatRedisBroker
from compat.brokers.redis.maintenance import pid_alive
from tests.compat.conftest import start_worker, stop_worker
from tests.helpers import wait_for


@pytest.fixture
def broker(redis_url, redis_namespace):
    broker = CompatRedisBroker(url=redis_url, namespace=redis_namespace.rstrip(":"), middleware=[])
    broker.declare_queue("q")
    broker.idle_wait = 0.05
    yield broker
    broker.close()


def _send(broker, count: int) -> None:
    messages = [
        Message(queue_name="q", actor_name="a", args=(i,), kwargs={}, options={})
        for i in range(count)
    ]
    broker.enqueue_many([(message, None) for message in messages])


def _held(broker) -> set[str]:
    """The Redis ids this broker's worker holds from ``q`` (fetched, not acknowledged)."""
    return {rid.decode() for rid in broker.client.smembers(broker.acks_key(broker.broker_id, "q"))}


def _rid(message) -> str:
    return message.options["redis_message_id"]


def test_under_load_acks_ride_on_the_next_fetch(broker):
    _send(broker, 12)
    consumer = broker.consume("q", prefetch=8)
    held = [next(consumer) for _ in range(8)]
    for message in held[:4]:
        consumer.ack(message)
    assert {_rid(m) for m in held[:4]} <= _held(broker)  # waiting for the fetch: no call of their own
    assert broker.acks.calls == 0
    batch = [next(consumer) for _ in range(4)]  # the freed slots are fetched, the acks carried
    assert [m.args[0] for m in batch] == [8, 9, 10, 11]
    assert not {_rid(m) for m in held[:4]} & _held(broker)
    assert not broker.client.hmget(broker.key("q.msgs"), [_rid(m) for m in held[:4]])[0]
    assert (broker.acks.sent, broker.acks.calls) == (4, 1)


def test_an_idle_consumer_leaves_the_worker_thread_to_ack_at_once(broker):
    _send(broker, 1)
    consumer = broker.consume("q", prefetch=8)
    message = next(consumer)
    broker.idle_wait = 10
    broker.client.delete(broker.wake_key("q"))  # the enqueue's wake token, already served
    sleeper = threading.Thread(target=next, args=(consumer,), daemon=True)
    sleeper.start()  # finds the queue empty and blocks on its wake list
    wait_for(lambda: not broker.acks.awake, 5, "the consumer asleep on its wake list")
    consumer.ack(message)  # nobody will fetch soon: sent by this thread before ack() returns
    assert _held(broker) == set() and broker.acks.waiting == []
    broker.client.rpush(broker.stop_key, "stop")
    sleeper.join(5)


def test_a_full_prefetch_does_not_hold_acks_past_its_wait(broker):
    _send(broker, 10)
    consumer = broker.consume("q", prefetch=8)  # refills once 2 slots are free
    held = [next(consumer) for _ in range(8)]
    consumer.FULL_WAIT = 0.05
    consumer.ack(held[0])  # one slot: not enough for a batch, so no fetch yet
    assert next(consumer) is None  # the wait ran out: the waiting ack went on its own
    assert _rid(held[0]) not in _held(broker)


def test_closing_the_consumer_sends_the_waiting_acks(broker):
    _send(broker, 3)
    consumer = broker.consume("q", prefetch=8)
    held = [next(consumer) for _ in range(3)]
    for message in held:
        consumer.ack(message)
    assert len(_held(broker)) == 3
    consumer.close()
    assert _held(broker) == set() and not broker.client.hlen(broker.key("q.msgs"))


def _kill_then_recover(crash_env, redis_client, tmp_path, kill: str, send, finished) -> set[str]:
    """``send()`` the messages, then start a worker that SIGKILLs itself (``kill``: the worker_app switch)
    once three of its messages' acknowledgements or writes wait; once it is dead, start another and wait
    for ``finished()``. Returns what the dead worker held unsent (Redis ids or task ids, by its switch)."""
    key = f"{crash_env['COMPAT_TEST_NS']}:kill:{uuid.uuid4().hex}"
    app, killing = "tests.compat.worker_app", {**crash_env, kill: key}
    send()  # a backlog first: a worker that keeps up with a slow sender is idle, and sends each ack at once
    # not waited for: with the backlog there, it may kill itself before its heartbeat is seen
    first = start_worker(killing, app, threads=8, queues=["crash"], log=tmp_path / "a.log", wait=False)
    try:
        victim = int(wait_for(lambda: redis_client.get(key + ":killed"), 60, "the kill with work waiting"))
        wait_for(lambda: not pid_alive(victim), 30, "the worker to die")
        unsent = {item.decode() for item in redis_client.lrange(key, 0, -1)}
        assert len(unsent) >= 3
        second = start_worker(crash_env, app, threads=8, queues=["crash"], log=tmp_path / "b.log")
        try:
            finished()
        finally:
            stop_worker(second)
    finally:
        stop_worker(first)
    return unsent


def _runs(redis_client, key: str) -> list[tuple[str, str]]:
    """The ``(id, index)`` pairs the ``note_run`` tasks recorded, one per run."""
    return [tuple(line.decode().split()) for line in redis_client.lrange(key, 0, -1)]


def test_a_worker_killed_with_acks_waiting_loses_no_message(tasks, crash_env, redis_client, tmp_path):
    """SIGKILL while finished tasks' acks wait for the fetch: every message completes; those re-run."""
    ns, count = crash_env["COMPAT_TEST_NS"], 300
    runs = f"{ns}:acks-kill:{uuid.uuid4().hex}:runs"

    def send():
        for index in range(count):
            tasks.note_run.apply_async((runs, index), queue="crash")

    def finished():
        wait_for(lambda: len({i for _, i in _runs(redis_client, runs)}) == count, 90, "every message")
        wait_for(lambda: not redis_client.hlen(f"{ns}:crash.msgs"), 30, "every message acknowledged")

    unsent = _kill_then_recover(
        crash_env, redis_client, tmp_path, "COMPAT_TEST_KILL_WITH_WAITING_ACKS", send, finished
    )
    by_rid = Counter(rid for rid, _ in _runs(redis_client, runs))
    assert len({i for _, i in _runs(redis_client, runs)}) == count  # none lost
    # finished by the dead worker but never acknowledged: given back and run again, once
    assert {rid: by_rid[rid] for rid in unsent} == dict.fromkeys(unsent, 2)


def test_a_worker_killed_with_success_writes_waiting_loses_no_result(
    tasks, crash_env, redis_client, tmp_path
):
    """SIGKILL while success writes (each with its acknowledgement) wait for the writer thread: every task
    ends SUCCESS with its result; the ones whose writes were lost ran again."""
    runs, count = f"{crash_env['COMPAT_TEST_NS']}:states-kill:{uuid.uuid4().hex}:runs", 300
    results = []

    def send():
        results.extend(tasks.note_run_stored.apply_async((runs, i), queue="crash") for i in range(count))

    def finished():
        assert [result.get(timeout=90) for result in results] == list(range(count))  # none lost

    unsent = _kill_then_recover(
        crash_env, redis_client, tmp_path, "COMPAT_TEST_KILL_WITH_WAITING_STATES", send, finished
    )
    by_id = Counter(task_id for task_id, _ in _runs(redis_client, runs))
    assert {task_id: by_id[task_id] for task_id in unsent} == dict.fromkeys(unsent, 2)


def _writer_running() -> bool:
    return any(thread.name == "compat-state-writer" for thread in threading.enumerate())


def test_success_writes_go_through_the_writer_only_under_load_and_a_stop_sends_them(redis_url, redis_client):
    """An idle worker stores a lone success itself (no hand-off); a burst goes through the writer thread,
    and a graceful stop leaves every state stored and every message acknowledged."""
    from dramatiq import Worker

    from compat import Celery

    ns = f"writer:{uuid.uuid4().hex[:8]}"
    app = Celery(
        "writer", broker=redis_url, backend=redis_url, set_as_current=False, broker_namespace=ns,
        result_namespace=ns + "-res", task_default_queue="q", worker_metrics=False,
    )

    ran = []

    @app.task
    def double(x):
        ran.append(x)
        return 2 * x

    app.broker.emit_after("process_boot")
    worker = Worker(app.broker, worker_timeout=50, worker_threads=4)
    worker.start()
    try:
        assert double.delay(1).get(timeout=10) == 2
        assert app.backend._writer is None  # idle: written by the worker thread, at once
        results = [double.delay(i) for i in range(200)]
        wait_for(lambda: app.backend._writer is not None, 10, "a write handed to the writer")
        assert _writer_running()
        # A stop requeues what the worker holds but has not started; stop once every task has run, so
        # what is left is only the writes (and their acknowledgements) the writer may still hold.
        wait_for(lambda: len(ran) == 201, 20, "every task run")
    finally:
        worker.stop()
    try:
        assert not _writer_running()
        assert [r.get(timeout=1) for r in results] == [2 * i for i in range(200)]
        assert not redis_client.hlen(f"{ns}:q.msgs")  # all acknowledged, by their state writes
    finally:
        app.broker.close()
        for key in redis_client.scan_iter(match=ns + "*"):
            redis_client.delete(key)


def test_the_writer_sends_a_script_redis_has_not_loaded_yet(redis_client, redis_namespace):
    """The writer's pipeline sends EVALSHA without asking SCRIPT EXISTS first; a script Redis does not
    know (a restarted Redis) is loaded and the batch sent again."""
    from compat.results.writer import StateWriter

    key = f"{redis_namespace}writer-noscript"
    script = redis_client.register_script(f"-- {uuid.uuid4().hex}\nredis.call('SET', KEYS[1], ARGV[1])")
    writer = StateWriter(redis_client)
    try:
        writer.submit(script, [key], ["written"])
        wait_for(lambda: redis_client.get(key) == b"written", 10, "the write")
    finally:
        writer.stop()
        redis_client.delete(key)
    assert (writer.sent, writer.pipelines) == (1, 1)

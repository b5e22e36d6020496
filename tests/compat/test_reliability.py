"""At-least-once and nothing-lost promises on real worker processes and a real Redis."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from compat import states
from compat.deadletters import store_for
from tests.compat.conftest import start_supervised, start_worker, stop_worker
from tests.helpers import wait_for


@pytest.fixture
def fast_env(crash_env):
    """``crash_env`` with two redeliveries before a message is a poison message."""
    return {**crash_env, "COMPAT_TEST_MAX_REDELIVERIES": "2"}


@pytest.fixture
def store(tasks):
    return store_for(tasks.app)




def test_sigkill_mid_task_runs_again_elsewhere_once(tasks, fast_env, redis_client, tmp_path):
    key = f"{fast_env['COMPAT_TEST_NS']}:crash:{uuid.uuid4().hex}"
    first = start_worker(
        fast_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "a.log"
    )
    # The first run outlasts the second worker's start on a loaded machine; the re-run is quick.
    result = tasks.slow_once.apply_async((key, 30), queue="crash")
    victim = int(wait_for(lambda: redis_client.lindex(key + ":started", 0), 60, "the task to start"))
    second = start_worker(
        fast_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "b.log"
    )
    try:
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        assert result.get(timeout=60) != victim
        recovered_in = time.monotonic() - killed_at
    finally:
        stop_worker(first)
        stop_worker(second)
    assert [int(pid) for pid in redis_client.lrange(key + ":done", 0, -1)] == [result.get()]
    print(f"recovered {recovered_in:.1f} s after SIGKILL (heartbeat timeout 2 s)")
    assert recovered_in < 15, f"recovered after {recovered_in:.1f}s (heartbeat timeout 2 s)"


def test_poison_message_is_dead_lettered_and_others_keep_running(
    tasks, fast_env, store, redis_client, tmp_path
):
    key = f"{fast_env['COMPAT_TEST_NS']}:poison:{uuid.uuid4().hex}"
    # Prefetch 1: a message merely prefetched by a worker that died counts as a delivery too (documented),
    # so with a deeper prefetch an innocent message sharing the poison's batch could be buried with it.
    env = {**fast_env, "dramatiq_queue_prefetch": "1"}
    with open(tmp_path / "supervised.log", "wb") as log:
        supervisor = start_supervised(env, log)
        try:
            poison = tasks.suicide.apply_async((key,), queue="crash")
            others = [tasks.add.apply_async((i, i), queue="crash") for i in range(5)]
            assert [other.get(timeout=120) for other in others] == [0, 2, 4, 6, 8]
            deadline = time.monotonic() + 60
            while store.get(poison.id) is None and time.monotonic() < deadline:
                time.sleep(0.2)
            after = tasks.add.apply_async((20, 1), queue="crash").get(timeout=60)
        finally:
            stop_worker(supervisor, timeout=30)  # SIGTERM, then SIGKILL to whatever is left of its group
    record = store.get(poison.id)
    assert record is not None, "poison message was not dead-lettered"
    assert record["reason"].startswith("poison")
    assert record["task"] == tasks.suicide.name and record["args"] == [key]
    assert redis_client.llen(key) == 3  # first delivery + 2 redeliveries, then buried
    assert poison.state == states.FAILURE
    assert after == 21


def test_garbage_message_is_dead_lettered_and_worker_lives(tasks, fast_env, store, redis_client, tmp_path):
    namespace = tasks.app.conf.broker_namespace
    worker = start_worker(
        fast_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "w.log"
    )
    try:
        before = store.count()
        redis_client.hset(f"{namespace}:crash.msgs", "garbage-1", b"\xff not a message")
        redis_client.rpush(f"{namespace}:crash", "garbage-1")
        redis_client.lpush(f"{namespace}:crash.wake", "-")
        assert tasks.add.apply_async((2, 2), queue="crash").get(timeout=60) == 4
        assert worker.poll() is None
    finally:
        stop_worker(worker)
    assert store.count() == before + 1
    newest = store.list(limit=1)[0]
    assert newest["reason"].startswith("undecodable")
    assert "not a message" in newest["message"]
    assert not redis_client.hexists(f"{namespace}:crash.msgs", "garbage-1")


def test_dead_letter_list_show_requeue_purge(tasks, store, redis_client, worker):
    key = f"{tasks.app.conf.broker_namespace}:once:{uuid.uuid4().hex}"
    result = tasks.fail_once.delay(key)
    with pytest.raises(RuntimeError, match="first run fails"):
        result.get(timeout=10)
    deadline = time.monotonic() + 5
    while store.get(result.id) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    listed = store.list(task=tasks.fail_once.name)
    assert result.id in [record["id"] for record in listed]
    record = store.get(result.id)
    assert record["args"] == [key] and record["queue"] == "default" and record["reason"] == "failed"
    assert "RuntimeError: first run fails" in record["traceback"]
    assert store.requeue(result.id, tasks.app)
    assert store.get(result.id) is None
    fresh = tasks.app.AsyncResult(result.id)
    assert fresh.get(timeout=10) == "second run"
    assert fresh.state == states.SUCCESS
    doomed = tasks.fail.delay("purge me")
    deadline = time.monotonic() + 5
    while store.get(doomed.id) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.purge(task=tasks.fail.name) >= 1
    assert store.list(task=tasks.fail.name) == []


def test_sigterm_finishes_running_task_and_requeues_prefetched(tasks, fast_env, redis_client, tmp_path):
    key = f"{fast_env['COMPAT_TEST_NS']}:term:{uuid.uuid4().hex}"
    namespace = tasks.app.conf.broker_namespace
    worker = start_worker(
        fast_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "t.log"
    )
    running = tasks.slow_once.apply_async((key, 1.5), queue="crash")
    waiting = [tasks.add.apply_async((i, 1), queue="crash") for i in range(3)]
    wait_for(lambda: redis_client.llen(key + ":started"), 60, "the slow task to start")
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    assert running.state == states.SUCCESS  # finished before the worker exited
    assert redis_client.llen(f"{namespace}:crash") >= 1  # prefetched messages went straight back
    second = start_worker(
        fast_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "u.log"
    )
    try:
        assert [result.get(timeout=60) for result in waiting] == [1, 2, 3]
    finally:
        stop_worker(second)

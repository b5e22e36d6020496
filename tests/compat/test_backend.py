"""The state store on a real Redis: ready states are final, barriers count each member once."""

from __future__ import annotations

import uuid

import pytest

from compat.backend import MemoryStore, RedisStore


@pytest.fixture(params=["redis", "memory"])
def store(request, redis_client, redis_namespace):
    if request.param == "memory":
        return MemoryStore()
    return RedisStore(client=redis_client, namespace=redis_namespace.rstrip(":"), expires=60)


def meta(status, result=None):
    return {"status": status, "result": result, "traceback": None, "children": [], "date_done": None}


def test_ready_state_is_final(store):
    task_id = str(uuid.uuid4())
    assert store.set_state(task_id, meta("STARTED"))
    assert store.set_state(task_id, meta("SUCCESS", 42))
    assert not store.set_state(task_id, meta("STARTED"))  # a late write from a slow path is ignored
    assert not store.set_state(task_id, meta("RETRY"))
    assert store.get_meta(task_id)["result"] == 42
    assert store.set_state(task_id, meta("PENDING"), force=True)  # requeue from dead letters
    assert store.get_meta(task_id)["status"] == "PENDING"


def test_chord_barrier_fires_once_and_counts_redeliveries_once(store):
    group_id = str(uuid.uuid4())
    assert not store.barrier(group_id, "0", 3, "a")
    assert not store.barrier(group_id, "0", 3, "a-again")  # a redelivered member counts once
    assert not store.barrier(group_id, "1", 3, "b")
    assert store.barrier(group_id, "2", 3, "c")  # the member that completes the set fires
    assert not store.barrier(group_id, "2", 3, "c-again")
    assert not store.claim(group_id, "late failure")


def test_wait_wakes_on_completion(store):
    import threading
    import time

    task_id = str(uuid.uuid4())
    timer = threading.Timer(0.2, lambda: store.set_state(task_id, meta("SUCCESS", "done")))
    timer.start()
    started = time.monotonic()
    assert store.wait([task_id], timeout=5)[0]["result"] == "done"
    assert time.monotonic() - started < 1.0  # woken by the completion, not by the 1 s re-check

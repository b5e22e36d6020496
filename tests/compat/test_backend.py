"""The state store on a real Redis: ready states are final, barriers count each member once."""

from __future__ import annotations

import uuid

import pytest

from compat.results.memory import MemoryStore
from compat.results.redis import RedisStore


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
    assert not store.barrier(group_id, "0", 3, "a")  # a member that did not fire it never will
    # the claimant, redelivered (it may have died before sending the body), claims it again
    assert store.barrier(group_id, "2", 3, "c")
    assert not store.claim(group_id, "late failure")
    assert store.claim(group_id, "c")


def test_a_failed_member_claims_its_chord_once_and_again_when_redelivered(store):
    group_id = str(uuid.uuid4())
    assert store.claim(group_id, "failed")
    assert not store.claim(group_id, "failed too")
    assert store.claim(group_id, "failed")
    assert not store.barrier(group_id, "0", 1, "late success")


def test_one_send_of_a_message_runs_and_its_redeliveries_too(store):
    task_id = str(uuid.uuid4())
    assert store.claim_delivery(task_id, "send-1")
    assert store.claim_delivery(task_id, "send-1")  # the same send, redelivered: runs again
    assert not store.claim_delivery(task_id, "send-2")  # a second send of the same body: does not
    assert store.claim_delivery(str(uuid.uuid4()), "send-2")


def test_wait_wakes_on_completion(store):
    import threading
    import time

    task_id = str(uuid.uuid4())
    timer = threading.Timer(0.2, lambda: store.set_state(task_id, meta("SUCCESS", "done")))
    timer.start()
    started = time.monotonic()
    assert store.wait([task_id], timeout=5)[0]["result"] == "done"
    assert time.monotonic() - started < 1.0  # woken by the completion, not by the 1 s re-check


def save_header(store, group_id, member_ids):
    store.save_group(group_id, [[group_id, None], [[[member_id, None], None] for member_id in member_ids]])


def test_header_member_write_joins_the_chord_in_one_step(store):
    group_id, ids = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(3)]
    save_header(store, group_id, ids)
    chord = {"id": group_id, "size": 3}
    # members finish out of order; a redelivered member is stored once and counted once
    assert store.set_state_joining(ids[2], meta("SUCCESS", 2), {**chord, "index": 2}) is None
    assert store.set_state_joining(ids[0], meta("SUCCESS", 0), {**chord, "index": 0}) is None
    assert store.set_state_joining(ids[0], meta("SUCCESS", "again"), {**chord, "index": 0}) is None
    assert store.get_meta(ids[0])["result"] == 0
    member_ids, metas = store.set_state_joining(ids[1], meta("SUCCESS", 1), {**chord, "index": 1})
    assert member_ids == ids  # header order, not completion order
    assert [m["result"] for m in metas] == [0, 1, 2]
    # fires once: a redelivered member that did not complete it gets nothing; the one that did gets the
    # header again (it may have died before it sent the body)
    assert store.set_state_joining(ids[2], meta("SUCCESS", 2), {**chord, "index": 2}) is None
    again = store.set_state_joining(ids[1], meta("SUCCESS", "late"), {**chord, "index": 1})
    assert again is not None and [m["result"] for m in again[1]] == [0, 1, 2]
    assert not store.claim(group_id, "late failure")


def test_joined_write_of_a_spliced_result_and_a_missing_member(store):
    group_id, ids = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(2)]
    save_header(store, group_id, ids)
    chord = {"id": group_id, "size": 2}
    store.set_state_joining(ids[0], meta("SUCCESS"), {**chord, "index": 0}, result_json='{"a": [1, 2]}')
    store.forget(ids[0])  # expired or forgotten before the chord completed
    member_ids, metas = store.set_state_joining(ids[1], meta("SUCCESS", "b"), {**chord, "index": 1})
    assert member_ids == ids and metas[0] is None and metas[1]["result"] == "b"


def test_joined_write_reads_an_unexpected_group_record_the_slow_way(redis_client, redis_namespace):
    store = RedisStore(client=redis_client, namespace=redis_namespace.rstrip(":"), expires=60)
    group_id = str(uuid.uuid4())
    # a member id that is not a string: the script leaves the record to Python, which still reads it
    store.save_group(group_id, [[group_id, None], [[[12345, None], None]]])
    member_ids, metas = store.set_state_joining("12345", meta("SUCCESS", 7), {"id": group_id, "size": 1})
    assert member_ids == [12345] and metas[0]["result"] == 7

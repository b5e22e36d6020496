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


def _published(redis_client, store, task_id, write):
    """The payload of the completion message ``write()`` publishes for ``task_id``."""
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(store.done_channel(task_id))
    assert pubsub.get_message(timeout=2) is None  # the subscribe confirmation, skipped
    write()
    message = pubsub.get_message(timeout=2)
    pubsub.close()
    return message["data"]


def test_a_completion_carries_a_small_record_and_only_the_status_of_a_large_one(
    redis_client, redis_namespace
):
    from compat import serialization

    store = RedisStore(client=redis_client, namespace=redis_namespace.rstrip(":"), expires=60)
    small, large = str(uuid.uuid4()), str(uuid.uuid4())
    data = _published(redis_client, store, small, lambda: store.set_state(small, meta("SUCCESS", "done")))
    assert serialization.loads(data) == store.get_meta(small)  # the record as stored
    big = "x" * 70_000  # over 64 KiB: Redis would buffer every waiter a copy of it
    data = _published(redis_client, store, large, lambda: store.set_state(large, meta("SUCCESS", big)))
    assert data == b"SUCCESS"
    assert store.wait([large], timeout=5)[0]["result"] == big  # read back instead


def test_wait_takes_a_published_record_as_read_and_reads_back_anything_else(redis_client, redis_namespace):
    import threading
    import time

    from compat import serialization

    store = RedisStore(client=redis_client, namespace=redis_namespace.rstrip(":"), expires=60)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    store.set_state(ids[0], meta("STARTED"))

    def finish():
        for _ in range(500):  # until wait() has subscribed to every channel (a message before is lost)
            counts = redis_client.pubsub_numsub(*(store.done_channel(task_id) for task_id in ids))
            if all(count for _, count in counts):
                break
            time.sleep(0.01)
        # a record published but (not yet) readable: taken from the message, no read-back
        redis_client.publish(store.done_channel(ids[0]), serialization.dumps(meta("SUCCESS", "from message")))
        # a status-only message (an earlier release's worker): the record is read back
        redis_client.set(store.meta_key(ids[1]), serialization.dumps(meta("SUCCESS", "stored")))
        redis_client.publish(store.done_channel(ids[1]), "SUCCESS")
        # garbage that looks like JSON, and a record that is not ready: neither is believed
        redis_client.publish(store.done_channel(ids[2]), "{not json")
        redis_client.publish(store.done_channel(ids[2]), serialization.dumps(meta("STARTED")))
        store.set_state(ids[2], meta("FAILURE", "real"))
        store.set_state(ids[3], meta("SUCCESS", 3))

    timer = threading.Thread(target=finish)
    timer.start()
    metas = store.wait([*ids, ids[3]], timeout=10)
    timer.join()
    # ids[0]'s stored record says STARTED to this day: its result can only have come from the message
    assert [m["result"] for m in metas] == ["from message", "stored", "real", 3, 3]

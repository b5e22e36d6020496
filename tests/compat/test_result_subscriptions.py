"""``get()``'s pub/sub connection is kept from one wait to the next, on a private Redis (its connection
counts are this test's alone): one connection for many waits, and a wait that still works after Redis
closed the kept one, after a wait that timed out, and in a forked child."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
import redis

from compat.exceptions import TimeoutError
from compat.results.redis import RedisStore


@pytest.fixture
def store(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    yield RedisStore(client=client, namespace=f"subs-{uuid.uuid4().hex[:8]}", expires=60)
    client.close()


def meta(status, result=None):
    return {"status": status, "result": result, "traceback": None, "children": [], "date_done": None}


def finish_when_heard(store, task_id, result):
    """Store ``task_id``'s success once a waiter listens on its channel (so the wait really waits)."""

    def finish():
        deadline = time.monotonic() + 10
        while not store.client.pubsub_numsub(store.done_channel(task_id))[0][1]:
            assert time.monotonic() < deadline, "nobody subscribed"
            time.sleep(0.005)
        store.set_state(task_id, meta("SUCCESS", result))

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def wait_for_one(store, result, timeout=10):
    task_id = str(uuid.uuid4())
    thread = finish_when_heard(store, task_id, result)
    try:
        return store.wait([task_id], timeout=timeout)[0]["result"]
    finally:
        thread.join()


def connections_received(store) -> int:
    return store.client.info("stats")["total_connections_received"]


def test_many_waits_on_one_thread_share_one_connection(store):
    assert wait_for_one(store, "first") == "first"  # the kept connection opens here
    before = connections_received(store)
    assert [wait_for_one(store, i) for i in range(20)] == list(range(20))
    # the finishing threads' commands come from the client's pool; the waits opened nothing
    assert connections_received(store) - before <= 2
    # and nothing stays subscribed between waits (the unsubscribe is sent, not awaited: give it a moment)
    deadline = time.monotonic() + 2
    while store.client.pubsub_channels() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.client.pubsub_channels() == []  # this module's own Redis: no one else's channels


def test_a_wait_after_redis_closed_the_kept_connection_opens_another(store):
    assert wait_for_one(store, "before") == "before"
    # the kept connection: idle, subscribed to nothing, its last command the unsubscribe
    kept = [c["id"] for c in store.client.client_list() if c["cmd"] == "unsubscribe"]
    assert len(kept) == 1
    store.client.client_kill_filter(_id=kept[0])
    assert wait_for_one(store, "after") == "after"


def test_a_wait_after_one_that_timed_out_hears_its_completion(store):
    with pytest.raises(TimeoutError):
        store.wait([str(uuid.uuid4())], timeout=0.3)
    started = time.monotonic()
    assert wait_for_one(store, "next") == "next"
    assert time.monotonic() - started < 0.9  # woken by the message, not by the 1 s re-check


def test_a_forked_child_waits_on_its_own_connection_and_the_parent_keeps_its_own(store):
    assert wait_for_one(store, "parent") == "parent"
    pid = os.fork()
    if pid == 0:  # the child: any failure is its exit status
        try:
            os._exit(0 if wait_for_one(store, "child") == "child" else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert wait_for_one(store, "parent again") == "parent again"

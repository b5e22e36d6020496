"""Celery semantics on a real Dramatiq worker process and a real Redis (no eager mode, no mocks)."""

from __future__ import annotations

import time
import uuid

import pytest

from compat import chain, chord, group, states
from compat.exceptions import MaxRetriesExceededError, NotRegistered, TaskRevokedError, TimeoutError
from tests.compat.conftest import start_worker, stop_worker

pytestmark = pytest.mark.usefixtures("worker")


def test_delay_returns_the_value(tasks):
    result = tasks.add.delay(2, 3)
    assert result.get(timeout=10) == 5
    assert result.state == states.SUCCESS
    assert result.successful() and result.ready()
    assert result.date_done is not None


def test_failure_stores_exception_and_traceback(tasks):
    result = tasks.fail.delay("kaput")
    with pytest.raises(ValueError, match="kaput"):
        result.get(timeout=10)
    assert result.state == states.FAILURE
    assert isinstance(result.result, ValueError)
    assert "ValueError: kaput" in result.traceback
    assert result.get(timeout=1, propagate=False).args == ("kaput",)


def test_custom_exception_class_is_rebuilt(tasks):
    result = tasks.raise_custom.delay("odd")
    with pytest.raises(tasks.CustomError, match="odd"):
        result.get(timeout=10)


def test_unknown_id_is_pending(tasks):
    result = tasks.app.AsyncResult(str(uuid.uuid4()))
    assert result.state == states.PENDING
    assert result.result is None
    assert not result.ready()


def test_get_times_out(tasks):
    result = tasks.sleeper.delay(2)
    with pytest.raises(TimeoutError, match="The operation timed out."):
        result.get(timeout=0.3)
    assert result.get(timeout=10) == 2


def test_track_started_shows_started_with_worker(tasks):
    result = tasks.sleeper.delay(1)
    deadline = time.monotonic() + 5
    while result.state == states.PENDING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert result.state == states.STARTED
    assert result.info["hostname"].startswith("worker-")
    assert result.get(timeout=10) == 1


def test_retry_shows_retry_then_succeeds_with_same_id(tasks):
    result = tasks.retry_until.delay(2)
    seen = set()
    deadline = time.monotonic() + 10
    while not result.ready() and time.monotonic() < deadline:
        seen.add(result.state)
        time.sleep(0.01)
    assert states.RETRY in seen
    assert result.get(timeout=10) == 2
    assert result.retries == 2


def test_retries_exhausted_reraise_exc(tasks):
    result = tasks.retry_until.delay(10)
    with pytest.raises(KeyError):
        result.get(timeout=15)
    assert result.retries == 3


def test_retries_exhausted_without_exc_is_max_retries_exceeded(tasks):
    result = tasks.retry_without_exc.delay()
    with pytest.raises(MaxRetriesExceededError, match="Can't retry"):
        result.get(timeout=10)


def test_autoretry_for_reraises_original_after_retries(tasks):
    result = tasks.autoretried.delay("db")
    with pytest.raises(ConnectionError, match="db"):
        result.get(timeout=15)
    assert result.retries == 2


def test_send_task_unknown_name_is_not_registered(tasks):
    result = tasks.app.send_task("remote.only", args=[1])
    with pytest.raises(NotRegistered):
        result.get(timeout=10)
    assert result.state == states.FAILURE


def test_send_task_by_short_name(tasks):
    assert tasks.app.send_task("tsum", args=[[1, 2]]).get(timeout=10) == 3


def test_routed_task_goes_to_routed_queue_and_is_consumed(tasks):
    result = tasks.routed_echo.delay("hello")
    assert result.get(timeout=10) == "hello"
    assert result.queue == "routed"


def test_request_fields_in_worker(tasks):
    result = tasks.whoami.apply_async(queue="routed")
    info = result.get(timeout=10)
    assert info["id"] == result.id
    assert info["retries"] == 0
    assert info["queue"] == "routed"
    assert info["is_eager"] is False
    assert info["root_id"] == result.id
    assert info["parent_id"] is None


def test_revoked_task_never_runs(tasks):
    result = tasks.add.apply_async((1, 1), countdown=2)
    result.revoke()
    with pytest.raises(TaskRevokedError, match="revoked"):
        result.get(timeout=10)
    time.sleep(2.5)
    assert result.state == states.REVOKED


def test_expired_task_is_revoked(tasks):
    result = tasks.add.apply_async((1, 1), countdown=1, expires=0.5)
    with pytest.raises(TaskRevokedError, match="expired"):
        result.get(timeout=10)


def test_countdown_delays_execution(tasks):
    started = time.monotonic()
    assert tasks.add.apply_async((1, 2), countdown=1).get(timeout=10) == 3
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3


def test_unencodable_result_is_failure_encode_error(tasks):
    result = tasks.unencodable.delay()
    with pytest.raises(Exception) as info:
        result.get(timeout=10)
    assert type(info.value).__name__ == "EncodeError"


def test_get_inside_task_raises_runtime_error(tasks):
    inner = tasks.add.delay(1, 1)
    inner.get(timeout=10)
    result = tasks.get_inside.delay(inner.id)
    with pytest.raises(RuntimeError, match="Never call result.get"):
        result.get(timeout=10)


def test_ignore_result_returns_none_and_stores_nothing(tasks):
    result = tasks.ignored.delay(5)
    assert result.get(timeout=1) is None
    time.sleep(0.5)
    assert result.state == states.PENDING


def test_update_state_custom_state_is_visible(tasks):
    result = tasks.progress.delay()
    deadline = time.monotonic() + 5
    while result.state != "PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert result.state == "PROGRESS"
    assert result.info == {"done": 1}
    assert result.get(timeout=10) == "finished"


def test_datetime_decimal_uuid_round_trip(tasks):
    import datetime
    from decimal import Decimal

    value = [
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        Decimal("1.10"),
        uuid.UUID(int=7),
        (1, 2),
    ]
    result = tasks.app.send_task("tests.compat.worker_app.routed_echo", args=[value])
    assert result.get(timeout=10) == [value[0], value[1], value[2], [1, 2]]


def test_chain_group_chord_on_worker(tasks):
    add, tsum = tasks.add, tasks.tsum
    result = chain(add.s(1, 2), add.s(3), add.s(4)).apply_async()
    assert result.get(timeout=10) == 10
    assert result.parent.get(timeout=1) == 6
    assert group(add.s(i, i) for i in range(5)).apply_async().get(timeout=10) == [0, 2, 4, 6, 8]
    assert chord([add.s(1, 1), add.s(2, 2)], tsum.s(10)).apply_async().get(timeout=10) == 16


def test_priority_jumps_the_backlog(tasks, worker_env, redis_client, tmp_path):
    """300 low-priority messages wait behind a busy worker; a priority-0 one sent last starts first."""
    key = f"{worker_env['COMPAT_TEST_NS']}:order:{uuid.uuid4().hex}"
    env = {**worker_env, "COMPAT_TEST_EXTRA_QUEUES": "prio"}
    proc = start_worker(
        env,
        "tests.compat.worker_app",
        processes=1,
        threads=1,
        queues=["prio"],
        log=tmp_path / "prio-worker.log",
    )
    try:
        blocker = tasks.sleeper.apply_async((1.0,), queue="prio")
        time.sleep(0.3)
        lows = [
            tasks.record_order.apply_async((f"low{i}", key), queue="prio", priority=9) for i in range(300)
        ]
        high = tasks.record_order.apply_async(("high", key), queue="prio", priority=0)
        high.get(timeout=20)
        lows[-1].get(timeout=60)
        blocker.get(timeout=5)
    finally:
        stop_worker(proc)
    order = [item.decode() for item in redis_client.lrange(key, 0, -1)]
    redis_client.delete(key)
    assert len(order) == 301
    assert order.index("high") <= 2, order[:10]


def test_soft_time_limit_raises_inside_the_task(tasks):
    assert tasks.overrun.delay(3).get(timeout=10) == "cleaned up"
    assert tasks.overrun.delay(0.01).get(timeout=10) == "finished"


def test_map_and_chunks_on_worker(tasks):
    assert tasks.pair.map([1, 2]).apply_async().get(timeout=10) == [[1, 2], [2, 4]]
    assert tasks.add.chunks(zip(range(6), range(6), strict=True), 2).apply_async().get(timeout=10) == [
        [0, 2],
        [4, 6],
        [8, 10],
    ]


def test_rate_limit_spaces_starts_per_worker(tasks):
    results = [tasks.limited.delay(i) for i in range(12)]
    times = sorted(result.get(timeout=20) for result in results)
    assert times[-1] - times[0] >= 0.9  # 10/s: the 12th start comes at least ~1 s after the first


def test_pickle_serializer_is_refused_at_declaration(tasks):
    from compat.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="only 'json'"):
        tasks.app.task(serializer="pickle", name="tests.pickled")(lambda: None)


def test_a_workers_completion_message_carries_its_record_or_only_the_status_when_large(tasks):
    """What ``get()`` wakes on: a worker process's ready-state write publishes the record itself (read
    as is, no read-back) up to 64 KiB, and only the status above that."""
    from compat import serialization

    backend = tasks.app.backend
    pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
    try:
        small, large = str(uuid.uuid4()), str(uuid.uuid4())
        pubsub.subscribe(backend.done_channel(small), backend.done_channel(large))
        assert pubsub.get_message(timeout=5) is None and pubsub.get_message(timeout=5) is None  # confirmed
        tasks.add.apply_async((2, 3), task_id=small)
        tasks.add.apply_async(("x" * 70_000, "y"), task_id=large)
        published = {}
        deadline = time.monotonic() + 20
        while len(published) < 2 and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1)
            if message:
                published[message["channel"].decode().rsplit(":", 1)[1]] = message["data"]
    finally:
        pubsub.close()
    assert serialization.loads(published[small]) == backend.get_meta(small)
    assert serialization.loads(published[small])["result"] == 5
    assert published[large] == b"SUCCESS"
    assert tasks.app.AsyncResult(large).get(timeout=10) == "x" * 70_000 + "y"

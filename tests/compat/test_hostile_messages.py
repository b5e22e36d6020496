"""Messages written straight into Redis, as a buggy producer or an attacker with broker access would:
none may kill a worker thread, stall a consumer or vanish. Each is run or dead-lettered, and the worker
goes on. Real Redis, real worker processes."""

from __future__ import annotations

import json
import signal
import time

import pytest

from compat import states
from compat.deadletters import store_for
from tests.compat.conftest import assert_no_swallowed_errors, start_worker, stop_worker
from tests.compat.hostile import hostile_messages

QUEUE = "fuzz"
THREADS = 4


@pytest.fixture
def hostile_env(worker_env, tasks):
    return {**worker_env, "COMPAT_TEST_EXTRA_QUEUES": QUEUE}


@pytest.fixture
def fuzz_worker(hostile_env, tmp_path):
    log = tmp_path / "fuzz-worker.log"
    proc = start_worker(hostile_env, "tests.compat.worker_app", threads=THREADS, queues=[QUEUE], log=log)
    yield proc, log
    stop_worker(proc)


def push(client, namespace: str, items: list[tuple[str, bytes]]) -> None:
    """Store bodies under their ids on the fuzz queue, as the broker would, and wake the consumer."""
    with client.pipeline(transaction=False) as pipe:
        for rid, body in items:
            pipe.hset(f"{namespace}:{QUEUE}.msgs", rid, body)
            pipe.rpush(f"{namespace}:{QUEUE}", rid)
        pipe.lpush(f"{namespace}:{QUEUE}.wake", "-")
        pipe.execute()


def wait_drained(client, namespace: str, timeout: float) -> None:
    """Until every pushed message was taken and acknowledged (or moved away) by the worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not client.llen(f"{namespace}:{QUEUE}") and not client.hlen(f"{namespace}:{QUEUE}.msgs"):
            return
        time.sleep(0.2)
    raise AssertionError(
        f"not drained after {timeout} s: {client.llen(f'{namespace}:{QUEUE}')} queued, "
        f"{client.hlen(f'{namespace}:{QUEUE}.msgs')} unacknowledged"
    )


def dead_letters_by_redis_id(store) -> dict[str, dict]:
    """Dead letters of messages that ran and failed, by the Redis id their message was stored under."""
    found = {}
    for record in store.iter():
        try:
            options = json.loads(record["message"] or "null")["options"]
            found[options["redis_message_id"]] = record
        except (ValueError, TypeError, KeyError, RecursionError):
            continue
    return found


def crafted(tasks, rid: str, **changes) -> bytes:
    fields = {
        "queue_name": QUEUE,
        "actor_name": tasks.fuzz_target.name,
        "args": [1],
        "kwargs": {},
        "options": {"redis_message_id": rid},
        "message_id": rid,
        "message_timestamp": 0,
        **changes,
    }
    return json.dumps(fields).encode()


def test_messages_naming_another_queue_do_not_stall_the_worker(tasks, fuzz_worker, redis_client):
    """The issue's reproduction: one such message per worker thread used to kill every thread."""
    proc, log = fuzz_worker
    namespace = tasks.app.conf.broker_namespace
    store = store_for(tasks.app)
    rids = [f"wrong-queue-{i}" for i in range(THREADS)]
    bodies = [(rid, crafted(tasks, rid, queue_name="nonexistent_queue")) for rid in rids]
    push(redis_client, namespace, bodies)
    assert tasks.add.apply_async((2, 2), queue=QUEUE).get(timeout=5) == 4
    wait_drained(redis_client, namespace, 10)
    for rid in rids:
        record = store.get(f"unrunnable-{rid}")
        assert record is not None, f"{rid} was not dead-lettered"
        assert "queue_name 'nonexistent_queue' does not match" in record["reason"]
        assert '"nonexistent_queue"' in record["message"]
    # A graceful stop used to crash in requeue_messages (KeyError) with such messages in memory.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert_no_swallowed_errors(log)


def test_wrong_shapes_are_dead_lettered_not_lost(tasks, fuzz_worker, redis_client):
    proc, log = fuzz_worker
    namespace = tasks.app.conf.broker_namespace
    store = store_for(tasks.app)
    push(
        redis_client,
        namespace,
        [
            ("kwargs-list", crafted(tasks, "kwargs-list", kwargs=[1, 2])),
            ("options-string", crafted(tasks, "options-string", options="x")),
            ("throws", crafted(tasks, "throws", options={"throws": ["ValueError"]})),
            ("eta-on-queue", crafted(tasks, "eta-on-queue", options={"eta": 10**15})),
        ],
    )
    wait_drained(redis_client, namespace, 10)
    rids = ("kwargs-list", "options-string", "throws", "eta-on-queue")
    reasons = {rid: (store.get(f"unrunnable-{rid}") or {}).get("reason") for rid in rids}
    assert reasons == {
        "kwargs-list": "malformed: kwargs must be a mapping, not list",
        "options-string": "malformed: options must be a mapping, not str",
        "throws": "malformed: option 'throws' cannot travel in a message",
        "eta-on-queue": "malformed: option 'eta' belongs on a delay queue only",
    }
    assert redis_client.smembers(f"{namespace}:fuzz:ran") == set()  # none of them ran
    assert proc.poll() is None
    assert_no_swallowed_errors(log)


def test_message_without_its_redis_id_runs_and_is_acknowledged(tasks, fuzz_worker, redis_client):
    """It used to run and then never be acknowledged (redelivered after every restart)."""
    proc, log = fuzz_worker
    namespace = tasks.app.conf.broker_namespace
    push(redis_client, namespace, [("no-rid", crafted(tasks, "no-rid-task", options={}))])
    wait_drained(redis_client, namespace, 10)
    assert redis_client.sismember(f"{namespace}:fuzz:ran", "no-rid")
    held = [k for k in redis_client.scan_iter(f"{namespace}:__acks__.*.{QUEUE}") if redis_client.scard(k)]
    assert held == [], "the message is still held as unacknowledged"
    assert tasks.app.AsyncResult("no-rid-task").state == states.SUCCESS


def test_thousands_of_malformed_messages_are_each_run_or_dead_lettered(tasks, fuzz_worker, redis_client):
    proc, log = fuzz_worker
    namespace = tasks.app.conf.broker_namespace
    store = store_for(tasks.app)
    messages = list(hostile_messages(QUEUE, tasks.fuzz_target.name, 3000))
    for start in range(0, len(messages), 500):
        push(redis_client, namespace, [(m.rid, m.body) for m in messages[start : start + 500]])
    wait_drained(redis_client, namespace, 240)
    ran = {member.decode() for member in redis_client.smembers(f"{namespace}:fuzz:ran")}
    buried = {record["id"] for record in store.iter()} | set(dead_letters_by_redis_id(store))
    lost = []
    for message in messages:
        if message.rid in ran or f"unrunnable-{message.rid}" in buried or message.rid in buried:
            continue
        if message.task_id and tasks.app.AsyncResult(message.task_id).state == states.REVOKED:
            continue  # an 'expires' in the past: revoked, as Celery does
        lost.append(message)
    assert not lost, f"{len(lost)} messages neither ran nor were dead-lettered, e.g. " + "; ".join(
        message.body[:600].decode("utf-8", "replace") for message in lost[:5]
    )
    assert proc.poll() is None, "the worker died"
    started = time.monotonic()
    assert tasks.add.apply_async((20, 1), queue=QUEUE).get(timeout=1) == 21
    took = time.monotonic() - started
    print(f"{len(messages)} hostile messages handled; a normal task then took {took:.3f} s")
    text = log.read_text()
    assert "died; stopping this process" not in text
    assert len(max(text.splitlines(), key=len, default="")) < 20_000, "a log line carries a huge payload"
    assert_no_swallowed_errors(log)

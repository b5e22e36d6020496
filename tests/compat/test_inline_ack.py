"""A stored success and its acknowledgement in one Redis call, when nothing after the write could tell.

The worker stores a task's SUCCESS and acknowledges its message in the same script when the broker and the
result backend share a Redis and no canvas step, retry, outcome handler or signal receiver follows the
write (``TaskState.inline_ack``): both happen or neither does, one round trip instead of two. Otherwise
(another Redis, a handler) the acknowledgement comes after everything, as before.
"""

from __future__ import annotations

import os
import threading
import uuid
from contextlib import contextmanager

import pytest
from dramatiq import Worker

from compat import Celery, group, signals, states
from tests.compat.conftest import start_worker, stop_worker
from tests.helpers import wait_for


def _app(broker_url: str, backend_url: str) -> Celery:
    ns = f"inline:{uuid.uuid4().hex[:8]}"
    return Celery(
        "inline",
        broker=broker_url,
        backend=backend_url,
        set_as_current=False,
        broker_namespace=ns,
        result_namespace=ns + "-res",
        task_default_queue="q",
        worker_metrics=False,
    )


def _other_db(url: str) -> str:
    base, _, db = url.rpartition("/")
    return f"{base}/{int(db or 0) + 1}"


@pytest.fixture
def worker_for(redis_client):
    started = []

    def start(app: Celery) -> Worker:
        broker = app.broker
        broker.emit_after("process_boot")
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        started.append((app, worker))
        return worker

    yield start
    for app, worker in started:
        worker.stop()
        app.broker.close()
        for client in {redis_client, app.backend.client}:
            keys = list(client.scan_iter(match=app.conf.broker_namespace + "*"))
            if keys:
                client.delete(*keys)


def _left_behind(app: Celery, redis_client) -> list[str]:
    """What the broker still holds for queue ``q``: ids in a worker's ack set, bodies in the queue's hash."""
    ns = app.conf.broker_namespace
    acks = redis_client.scan_iter(match=f"{ns}:__acks__.*")
    held = [member.decode() for key in acks for member in redis_client.smembers(key)]
    return held + [rid.decode() for rid in redis_client.hkeys(f"{ns}:q.msgs")]


def _acknowledged(words: list[str], broker) -> list[str]:
    """The Redis ids a script call acknowledges for ``broker``'s consumer, from its ``MONITOR`` words:
    Dramatiq's dispatch ``ack``, the batch script (``acks.lua``) or those a fetch carries (``fetch.lua``)."""
    if len(words) < 3 or words[0].upper() != "EVALSHA":
        return []
    sha, count = words[1], int(words[2])
    keys, args = words[3 : 3 + count], words[3 + count :]
    if not keys or not (keys[-1] == broker.namespace or keys[-1].startswith(broker.namespace + ":")):
        return []  # another app's (another test's, in another process)
    if sha == broker.scripts["dispatch"].sha:
        return [args[-1]] if args and args[0] == "ack" else []
    if sha == broker.acks.script.sha:
        lists, per = (len(keys) - 1) // 2, args[2:]
    elif sha == broker._fetch_script.sha:
        lists, per = (len(keys) - 4) // 2, args[3:]
    else:
        return []
    ids, at = [], 0
    for _ in range(lists):
        ids += per[at + 1 : at + 1 + int(per[at])]
        at += 1 + int(per[at])
    return ids


@contextmanager
def consumer_acks(app: Celery, redis_client):
    """Count the consumer's own acknowledgements (a script call of their own, or carried by a fetch) that
    Redis runs inside the block, as ``MONITOR`` shows them: the Redis ids they acknowledged (a call Redis
    refused for want of the script, then repeated, is one)."""
    stop = f"stop-{uuid.uuid4().hex}"
    seen: set[str] = set()
    ready = threading.Event()

    def watch():
        with redis_client.monitor() as monitor:
            ready.set()
            while True:
                command = monitor.next_command()["command"]
                if stop in command:
                    return
                seen.update(_acknowledged(command.split(), app.broker))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield seen
    finally:
        redis_client.echo(stop)
        thread.join(10)


def test_a_success_is_stored_and_acknowledged_in_one_script_call(redis_url, redis_client, worker_for):
    app = _app(redis_url, redis_url)

    @app.task
    def double(x):
        return 2 * x

    worker_for(app)
    assert double.delay(0).get(timeout=10) == 0  # the worker is up
    with consumer_acks(app, redis_client) as acks:
        results = [double.delay(i) for i in range(50)]
        assert [r.get(timeout=20) for r in results] == [2 * i for i in range(50)]
        wait_for(lambda: not _left_behind(app, redis_client), 10, "the acknowledgements")
    assert all(r.state == states.SUCCESS for r in results)
    assert acks == set()  # each was acknowledged by its state write's script, none by a call of its own


def test_on_another_redis_database_the_consumer_acknowledges_after_the_write(
    redis_url, redis_client, worker_for
):
    app = _app(redis_url, _other_db(redis_url))

    @app.task
    def double(x):
        return 2 * x

    worker_for(app)
    with consumer_acks(app, redis_client) as acks:
        results = group(double.s(i) for i in range(20)).apply_async()
        assert results.get(timeout=20) == [2 * i for i in range(20)]
        wait_for(lambda: not _left_behind(app, redis_client), 10, "the acknowledgements")
    assert app.backend.client.exists(app.backend.meta_key(results.results[0].id))
    assert not redis_client.exists(app.backend.meta_key(results.results[0].id))
    assert len(acks) == 20


def test_a_task_success_receiver_still_runs_before_the_acknowledgement(redis_url, redis_client, worker_for):
    app = _app(redis_url, redis_url)
    seen = []

    @app.task
    def double(x):
        return 2 * x

    def receiver(sender=None, result=None, **kwargs):
        request = sender.request
        seen.append((result, app.AsyncResult(request.id).state, bool(_left_behind(app, redis_client))))

    signals.task_success.connect(receiver, sender=double, weak=False)
    try:
        worker_for(app)
        with consumer_acks(app, redis_client) as acks:
            result = double.delay(21)
            assert result.get(timeout=10) == 42
            wait_for(lambda: not _left_behind(app, redis_client), 10, "the acknowledgement")
    finally:
        signals.task_success.disconnect(receiver, sender=double)
    # Celery's order: the state is stored before task_success, and the message is still held then
    assert seen == [(42, states.SUCCESS, True)]
    assert len(acks) == 1


def test_a_worker_killed_in_after_return_leaves_the_message_to_run_again(
    tasks, crash_env, redis_client, tmp_path
):
    """``after_return`` runs after the state write: the message must not be acknowledged before it ends."""
    key = f"{crash_env['COMPAT_TEST_NS']}:after-return:{uuid.uuid4().hex}"
    first = start_worker(
        crash_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "a.log"
    )
    try:
        result = tasks.dies_in_after_return_once.apply_async((key,), queue="crash")
        victim = int(wait_for(lambda: redis_client.get(key + ":killed"), 30, "the first run's after_return"))
        wait_for(lambda: first.poll() is not None or _dead(victim), 30, "the worker to die")
        second = start_worker(
            crash_env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "b.log"
        )
        try:
            finished = wait_for(lambda: redis_client.lrange(key + ":after_return", 0, -1), 60, "the re-run")
        finally:
            stop_worker(second)
    finally:
        stop_worker(first)
    assert len(finished) == 1 and int(finished[0]) != victim  # after_return ran to its end, on a re-run
    assert result.get(timeout=5) == victim  # the first run's SUCCESS stands: a ready state is final


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False

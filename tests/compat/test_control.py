"""``app.control`` and ``app.control.inspect()`` answered by real worker processes on a real Redis (issue 17).

One worker group of two processes (two threads each) consumes the ``control`` queue only; ``parked`` is
routed but nobody consumes it (for ``purge``), ``extra`` is consumed once ``add_consumer`` asks for it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

import pytest

from compat import states
from compat.deadletters import store_for
from compat.exceptions import SoftTimeLimitExceeded, TaskRevokedError

from .conftest import ROOT, assert_no_swallowed_errors, start_worker, stop_worker

#: The keys of a task description, as Celery's ``Request.info()`` has them.
INFO_KEYS = {
    "id",
    "name",
    "args",
    "kwargs",
    "type",
    "hostname",
    "time_start",
    "acknowledged",
    "delivery_info",
    "worker_pid",
}


@pytest.fixture(scope="module")
def capp(worker_env):
    return importlib.import_module("tests.compat.control_app")


@pytest.fixture(scope="module")
def control_env(worker_env, capp):
    """The worker env, with the namespace ``start_worker`` watches for heartbeats set to this app's."""
    return {**worker_env, "COMPAT_TEST_NS": capp.NS, "COMPAT_CONTROL_APP_NS": capp.NS}


@pytest.fixture(scope="module")
def group(control_env, capp, tmp_path_factory):
    log = tmp_path_factory.mktemp("control") / "worker.log"
    proc = start_worker(
        control_env, "tests.compat.control_app", processes=2, threads=2, log=log, queues=["control"]
    )
    nodes = wait_for_nodes(capp.app, 2)
    yield nodes
    stop_worker(proc)
    assert_no_swallowed_errors(log)


def wait_for_nodes(app, count, timeout=20.0, exclude=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = sorted(
            node for reply in app.control.ping(timeout=0.5) for node in reply if node not in exclude
        )
        if len(nodes) >= count:
            return nodes
    raise AssertionError(f"{count} workers did not answer ping within {timeout} s")


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def running_on(app, task_id):
    """The node running ``task_id`` (from ``inspect().active()``), or None."""
    for node, tasks in (app.control.inspect(timeout=0.5).active() or {}).items():
        if any(task["id"] == task_id for task in tasks):
            return node
    return None


def test_ping_answers_per_worker_process_in_celerys_shape(capp, group):
    replies = capp.app.control.ping(timeout=1.0)
    assert sorted(node for reply in replies for node in reply) == group
    assert all(list(reply.values()) == [{"ok": "pong"}] for reply in replies)
    assert all(node.startswith("worker-") and "@" in node for node in group)
    assert capp.app.control.inspect().ping() == {node: {"ok": "pong"} for node in group}


def test_destination_limits_the_answer_and_returns_as_soon_as_it_came(capp, group):
    started = time.monotonic()
    replies = capp.app.control.ping(destination=[group[0]], timeout=5.0)
    assert replies == [{group[0]: {"ok": "pong"}}]
    assert time.monotonic() - started < 4.0  # did not wait the whole timeout
    assert capp.app.control.inspect(destination=group[1]).ping() == {"ok": "pong"}  # one node: its reply
    assert capp.app.control.ping(destination=["nobody@nowhere"], timeout=0.3) == []
    assert capp.app.control.inspect(destination=["nobody@nowhere"], timeout=0.3).ping() is None


def test_a_bad_destination_and_reply_false(capp, group):
    with pytest.raises(ValueError, match="destination must be a list/tuple"):
        capp.app.control.broadcast("ping", destination=42, reply=True)
    assert capp.app.control.broadcast("ping", reply=False) is None
    unknown = capp.app.control.broadcast("no_such_command", reply=True, timeout=1.0, limit=2)
    assert len(unknown) == 2 and all("error" in next(iter(reply.values())) for reply in unknown)


def test_registered_stats_active_queues_and_conf(capp, group):
    inspect = capp.app.control.inspect()
    registered = inspect.registered()
    assert set(registered) == set(group)
    assert "tests.compat.control_app.spin" in registered[group[0]]
    assert registered[group[0]] == sorted(registered[group[0]])
    stats = inspect.stats()[group[0]]
    assert {"total", "pid", "uptime", "pool", "broker", "prefetch_count", "rusage"} <= set(stats)
    assert stats["pool"]["max-concurrency"] == 2
    assert group[0] == f"worker-{stats['pid']}@{group[0].split('@', 1)[1]}"
    queues = inspect.active_queues()[group[0]]
    assert [queue["name"] for queue in queues] == ["control"]
    conf = inspect.conf()[group[0]]
    assert conf["task_default_queue"] == "control" and conf["worker_pool_restarts"] is True
    assert "task_serializer" not in conf  # a default, shown only with_defaults
    assert inspect.conf(with_defaults=True)[group[0]]["task_serializer"] == "json"


def test_active_query_task_and_revoke_terminate_stop_a_running_task(capp, group):
    result = capp.stubborn.delay(60)
    node = wait_until(lambda: running_on(capp.app, result.id))
    active = capp.app.control.inspect().active()[node]
    entry = next(task for task in active if task["id"] == result.id)
    assert set(entry) == INFO_KEYS
    assert entry["name"] == "tests.compat.control_app.stubborn" and entry["args"] == [60]
    assert entry["hostname"] == node and entry["time_start"] > 0
    queried = capp.app.control.inspect().query_task(result.id)
    assert queried[node][result.id][0] == "active"
    other = next(n for n in group if n != node)
    assert queried[other] == {}

    started = time.monotonic()
    replies = capp.app.control.revoke(result.id, terminate=True, signal="SIGKILL", reply=True)
    assert flatten(replies) == {
        node: {"ok": f"terminate: {result.id}"},
        other: {"ok": "terminate: tasks unknown"},
    }
    with pytest.raises(TaskRevokedError):
        result.get(timeout=10)
    assert time.monotonic() - started < 5
    assert result.state == states.REVOKED
    assert running_on(capp.app, result.id) is None
    assert capp.app.control.ping(destination=[node]) == [{node: {"ok": "pong"}}]  # the process lives on
    assert result.id in capp.app.control.inspect().revoked()[node]
    assert store_for(capp.app).get(result.id) is None  # stopped on request: not a dead letter
    assert capp.add.delay(2, 3).get(timeout=10) == 5


def test_async_result_revoke_terminate_is_app_control_revoke(capp, group):
    result = capp.spin.delay(60)
    node = wait_until(lambda: running_on(capp.app, result.id))
    replies = result.revoke(terminate=True, wait=True, timeout=2)
    assert {node: {"ok": f"terminate: {result.id}"}} in replies
    with pytest.raises(TaskRevokedError):
        result.get(timeout=10)


def test_revoke_without_terminate_replies_as_celery(capp, group):
    result = capp.add.apply_async((1, 1), countdown=30)
    replies = capp.app.control.revoke(result.id, reply=True)
    assert flatten(replies) == {node: {"ok": f"tasks {{'{result.id}'}} flagged as revoked"} for node in group}
    assert capp.app.control.revoke(result.id) is None
    assert result.state == states.REVOKED


def test_scheduled_and_reserved(capp, group):
    later = capp.add.apply_async((2, 2), countdown=30)
    holder = wait_until(lambda: scheduled_on(capp.app, later.id))
    node, entry = holder
    assert set(entry) == {"eta", "priority", "request"}
    assert entry["request"]["id"] == later.id and entry["eta"].startswith("20")
    assert capp.app.control.inspect().query_task(later.id)[node][later.id][0] == "scheduled"
    capp.app.control.revoke(later.id)

    # Eight tasks for four threads: those a process prefetched beyond its free threads wait in its work
    # queue, reserved (which ones depends on how the two processes shared them out).
    blockers = [capp.spin.delay(3) for _ in range(4)]
    waiting = [capp.spin.delay(0.1) for _ in range(4)]
    reserved = wait_until(lambda: reserved_ids(capp.app) & {r.id for r in blockers + waiting})
    assert reserved
    entries = [task for tasks in capp.app.control.inspect().reserved().values() for task in tasks]
    assert all(set(task) == INFO_KEYS and task["time_start"] is None for task in entries)
    for result in blockers + waiting:
        result.get(timeout=30)


def scheduled_on(app, task_id):
    for node, entries in (app.control.inspect(timeout=0.5).scheduled() or {}).items():
        for entry in entries:
            if entry["request"]["id"] == task_id:
                return node, entry
    return None


def reserved_ids(app):
    return {
        task["id"] for tasks in (app.control.inspect(timeout=0.5).reserved() or {}).values() for task in tasks
    }


def test_time_limit_changes_a_running_workers_limits(capp, group):
    replies = capp.app.control.time_limit("tests.compat.control_app.spin", soft=0.5, reply=True)
    assert flatten(replies) == {node: {"ok": "time limits set successfully"} for node in group}
    try:
        with pytest.raises(SoftTimeLimitExceeded):
            capp.spin.delay(20).get(timeout=15)
    finally:
        capp.app.control.time_limit("tests.compat.control_app.spin", soft=None, hard=None, reply=True)
    assert capp.spin.delay(0.6).get(timeout=15) == "finished"
    unknown = capp.app.control.time_limit("no.such.task", soft=1, reply=True)
    assert flatten(unknown) == {node: {"error": "unknown task"} for node in group}


def test_rate_limit_changes_a_running_workers_limit(capp, group):
    replies = capp.app.control.rate_limit("tests.compat.control_app.limited", "1/h", reply=True)
    assert flatten(replies) == {node: {"ok": "new rate limit set successfully"} for node in group}
    results = [capp.limited.delay(n) for n in range(6)]
    time.sleep(3)
    done = [r for r in results if r.ready()]
    assert 1 <= len(done) <= len(group)  # one start per process per hour
    bad = capp.app.control.rate_limit("tests.compat.control_app.limited", "fast", reply=True)
    assert all(reply["error"].startswith("Invalid rate limit string") for reply in flatten(bad).values())
    off = capp.app.control.rate_limit("tests.compat.control_app.limited", None, reply=True)
    assert flatten(off) == {node: {"ok": "rate limit disabled successfully"} for node in group}
    capp.app.control.revoke([r.id for r in results if not r.ready()])


def test_add_and_cancel_consumer(capp, group):
    replies = capp.app.control.add_consumer("extra", reply=True)
    assert flatten(replies) == {node: {"ok": "add consumer extra"} for node in group}
    queues = capp.app.control.inspect().active_queues()
    assert all([q["name"] for q in queues[node]] == ["control", "extra"] for node in group)
    assert capp.extra_echo.delay("hi").get(timeout=10) == "hi"

    replies = capp.app.control.cancel_consumer("extra", reply=True)
    assert flatten(replies) == {node: {"ok": "no longer consuming from extra"} for node in group}
    wait_until(
        lambda: all(
            [q["name"] for q in queues] == ["control"]
            for queues in capp.app.control.inspect().active_queues().values()
        ),
        timeout=15,
    )
    waiting = capp.extra_echo.delay("later")
    time.sleep(1.5)
    assert waiting.state == states.PENDING
    capp.app.control.add_consumer("extra", reply=True)
    assert waiting.get(timeout=10) == "later"


def test_pool_grow_and_shrink(capp, group):
    node = group[0]
    capp.app.control.pool_grow(2, destination=[node], reply=True)
    assert capp.app.control.inspect().stats()[node]["pool"]["max-concurrency"] == 4
    too_many = capp.app.control.pool_grow(10**9, destination=[node], reply=True)
    assert too_many == [{node: {"error": "pool_grow: a process runs at most 256 threads"}}]
    capp.app.control.pool_shrink(2, destination=[node], reply=True)
    assert capp.app.control.inspect().stats()[node]["pool"]["max-concurrency"] == 2
    assert capp.add.delay(1, 2).get(timeout=10) == 3


def test_purge_discards_waiting_messages_and_returns_the_count(capp, group):
    capp.app.control.purge()  # what earlier tests left (revoked countdown messages)
    results = [capp.parked.delay(n) for n in range(5)]
    assert capp.app.control.purge() == 5
    assert capp.app.control.purge() == 0
    assert all(r.state == states.PENDING for r in results)


def test_unsupported_commands_say_what_to_use_instead(capp):
    for name in ("autoscale", "enable_events", "disable_events", "heartbeat", "election"):
        with pytest.raises(NotImplementedError, match="not supported by compat: .+"):
            getattr(capp.app.control, name)()
    with pytest.raises(NotImplementedError, match="destination"):
        capp.app.control.inspect(pattern="worker-*")


def flatten(replies):
    out = {}
    for reply in replies:
        out.update(reply)
    return out


def start_supervised(env, log):
    """One worker process under ``compat.supervisor``, as ``rundramatiq`` runs a group."""
    argv = [sys.executable, "-m", "compat.supervisor", "--restart-delay", "0.2", "tests.compat.control_app"]
    argv += ["-p", "1", "-t", "1", "-Q", "control"]
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def test_pool_restart_replaces_the_group_and_shutdown_stops_it(control_env, capp, group, tmp_path):
    proc = start_supervised(control_env, tmp_path / "solo.log")
    try:
        solo = wait_for_nodes(capp.app, 1, exclude=group, timeout=30)[0]
        reply = capp.app.control.pool_restart(destination=[solo], reply=True)
        assert reply == [{solo: {"ok": "reload started"}}]
        fresh = wait_for_nodes(capp.app, 1, exclude=[*group, solo], timeout=30)[0]
        assert fresh != solo and proc.poll() is None  # a new process, the same supervisor
        assert capp.app.control.shutdown(destination=[fresh]) is None
        assert proc.wait(timeout=30) == 0  # stopped for good: the supervisor did not restart it
    finally:
        stop_worker(proc)
    assert sorted(node for reply in capp.app.control.ping() for node in reply) == group


def test_pool_restart_outside_a_supervisor_says_so(capp, group):
    replies = capp.app.control.pool_restart(destination=[group[0]], reply=True)
    assert "compat.supervisor" in replies[0][group[0]]["error"]


def test_every_celery_control_and_inspect_method_exists_and_is_classified():
    """Each method of Celery's Control/Inspect is here (working or a clear NotImplementedError) and has its
    own row in compat check's table, so a project calling it is told what it gets."""
    from celery.app.control import Control as CeleryControl
    from celery.app.control import Inspect as CeleryInspect

    from compat.check import rules
    from compat.control import Control, Inspect

    for ours, theirs, category in ((Control, CeleryControl, "control"), (Inspect, CeleryInspect, "inspect")):
        names = {name for name, value in vars(theirs).items() if name[0].islower() and callable(value)}
        missing = sorted(name for name in names if not hasattr(ours, name))
        assert not missing, f"{category}: {missing}"
        unclassified = sorted(name for name in names if not rules.explicit(f"{category}:{name}"))
        assert not unclassified, f"{category}: {unclassified}"


def test_purge_on_the_in_memory_broker():
    from compat import Celery

    app = Celery("purge-memory", broker="memory://", set_as_current=False)

    @app.task
    def noop(n):
        return n

    for n in range(3):
        noop.delay(n)
    noop.apply_async((9,), countdown=60)
    assert app.control.purge() == 4
    assert app.control.purge() == 0
    assert app.control.revoke("some-id") is None  # no Redis: the store's revocations only

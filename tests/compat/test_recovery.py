"""Crash recovery on the default settings: a SIGKILLed worker's message runs again within 15 s, whether
its host is still there (its PID is checked) or gone (its heartbeat times out). And a worker whose thread
died is replaced instead of silently running short. Real Redis, real supervised worker processes."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from compat.config import DEFAULTS
from compat.utils.procs import process_state
from tests.compat.conftest import start_supervised, start_worker, stop_worker
from tests.helpers import wait_for

RECOVERY_BOUND = 15.0


@pytest.fixture
def default_env(worker_env, tasks):
    """The worker app on the facade's default heartbeat settings, on a queue only these tests use."""
    return {
        **worker_env,
        "COMPAT_TEST_EXTRA_QUEUES": "recovery",
        "COMPAT_TEST_HEARTBEAT_TIMEOUT": str(DEFAULTS["broker_heartbeat_timeout"]),
        "COMPAT_TEST_MAINTENANCE_INTERVAL": str(DEFAULTS["broker_maintenance_interval"]),
    }


def heartbeats(redis_client, env: dict) -> set:
    """The worker processes heartbeating in the test namespace (the session's worker among them)."""
    return set(redis_client.zrange(f"{env['COMPAT_TEST_NS']}:__heartbeats__", 0, -1))


def wait_booted(redis_client, env: dict, known: set, processes: int) -> None:
    """Wait until the group's ``processes`` worker processes heartbeat (instead of a fixed pause)."""
    wait_for(lambda: len(heartbeats(redis_client, env) - known) >= processes, 60, "the group to boot")


def test_sigkilled_worker_on_this_host_is_recovered_within_15_s(
    tasks, default_env, redis_client, tmp_path
):
    key = f"{default_env['COMPAT_TEST_NS']}:recovery:{uuid.uuid4().hex}"
    with open(tmp_path / "group.log", "wb") as log:
        known = heartbeats(redis_client, default_env)
        group = start_supervised(default_env, log, processes=2, threads=2, queue="recovery")
        try:
            wait_booted(redis_client, default_env, known, processes=2)
            result = tasks.slow_once.apply_async((key, 1.0), queue="recovery")
            victim = int(wait_for(lambda: redis_client.lindex(key + ":started", 0), 20, "the task to start"))
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            rerun_by = result.get(timeout=60)
            recovered_in = time.monotonic() - killed_at
        finally:
            stop_worker(group, timeout=30)
    assert rerun_by != victim
    print(f"SIGKILL on this host: the task ran again and finished {recovered_in:.1f} s after the kill")
    assert recovered_in <= RECOVERY_BOUND


def test_worker_whose_host_vanished_is_recovered_within_15_s(tasks, default_env, redis_client, tmp_path):
    """A host that is gone cannot be asked about its PIDs: its workers time out by heartbeat."""
    key = f"{default_env['COMPAT_TEST_NS']}:recovery:{uuid.uuid4().hex}"
    namespace = tasks.app.conf.broker_namespace
    first = start_worker(
        default_env, "tests.compat.worker_app", threads=1, queues=["recovery"], log=tmp_path / "first.log"
    )
    result = tasks.slow_once.apply_async((key, 1.0), queue="recovery")
    victim = int(wait_for(lambda: redis_client.lindex(key + ":started", 0), 20, "the task to start"))
    os.killpg(first.pid, signal.SIGKILL)  # the whole group, as a host that loses power
    killed_at = time.monotonic()
    first.wait()
    # What the vanished host had registered about its PIDs is unreachable from any other host.
    for host_key in redis_client.scan_iter(f"{namespace}:__hosts__:*"):
        redis_client.delete(host_key)
    second = start_worker(
        default_env, "tests.compat.worker_app", threads=1, queues=["recovery"], log=tmp_path / "second.log"
    )
    try:
        rerun_by = result.get(timeout=60)
        recovered_in = time.monotonic() - killed_at
    finally:
        stop_worker(second)
    assert rerun_by != victim
    print(f"host gone: the task ran again and finished {recovered_in:.1f} s after the kill")
    assert recovered_in <= RECOVERY_BOUND


def test_worker_with_a_dead_thread_is_replaced(tasks, default_env, redis_client, tmp_path):
    """Dramatiq lets a worker thread die on an unexpected error while the process heartbeats on."""
    key = f"{default_env['COMPAT_TEST_NS']}:thread:{uuid.uuid4().hex}"
    with open(tmp_path / "group.log", "wb") as log:
        known = heartbeats(redis_client, default_env)
        group = start_supervised(default_env, log, threads=2, queue="recovery")
        try:
            wait_booted(redis_client, default_env, known, processes=1)
            tasks.kill_worker_thread.apply_async((key,), queue="recovery")
            first = int(wait_for(lambda: redis_client.lindex(key, 0), 20, "the thread killer to run"))
            wait_for(lambda: not _alive(first), 20, "the process with the dead thread to exit")
            # The replacement group serves the queue with all its threads.
            results = [tasks.add.apply_async((i, i), queue="recovery") for i in range(4)]
            assert [r.get(timeout=30) for r in results] == [0, 2, 4, 6]
        finally:
            stop_worker(group, timeout=30)
    text = (tmp_path / "group.log").read_text()
    assert "died; stopping this process so that it is replaced" in text


def _alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z")

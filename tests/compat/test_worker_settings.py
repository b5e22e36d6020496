"""Celery's worker settings honoured by real Dramatiq worker processes (issue 17, item 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compat import Celery

from .conftest import ROOT, stop_worker
from .test_control import capp, control_env, wait_for_nodes  # noqa: F401


def start(env, settings, log, *dramatiq_args, supervised=True):
    """The control app's worker with ``settings``, under ``compat.supervisor`` (or plain ``dramatiq``)."""
    env = {**env, "COMPAT_CONTROL_APP_SETTINGS": json.dumps(settings)}
    head = ["-m", "compat.supervisor", "--restart-delay", "0.2"] if supervised else ["-m", "dramatiq"]
    argv = [sys.executable, *head, "tests.compat.control_app", "-Q", "control", *dramatiq_args]
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


@pytest.fixture
def running(control_env, capp, tmp_path):  # noqa: F811
    procs = []

    def run(settings, *args, supervised=True):
        known = {node for reply in capp.app.control.ping(timeout=0.5) for node in reply}
        procs.append(
            start(control_env, settings, tmp_path / f"w{len(procs)}.log", *args, supervised=supervised)
        )
        return wait_for_nodes(capp.app, 1, exclude=known, timeout=40)[0]

    yield run
    for proc in procs:
        stop_worker(proc)


def stats_of(capp, node):  # noqa: F811
    return capp.app.control.inspect(destination=[node]).stats()[node]


def test_worker_concurrency_is_the_thread_count_unless_the_command_line_says(capp, running):  # noqa: F811
    node = running({"worker_concurrency": 3}, "-p", "1")
    assert stats_of(capp, node)["pool"]["max-concurrency"] == 3
    assert stats_of(capp, node)["prefetch_count"] == 6  # Dramatiq's 2 x threads, for those threads
    node = running({"worker_concurrency": 3}, "-p", "1", "-t", "2")
    assert stats_of(capp, node)["pool"]["max-concurrency"] == 2


def test_worker_prefetch_multiplier(capp, running):  # noqa: F811
    node = running({"worker_prefetch_multiplier": 1}, "-p", "1", "-t", "2")
    assert stats_of(capp, node)["prefetch_count"] == 2
    node = running({}, "-p", "1", "-t", "2")
    assert stats_of(capp, node)["prefetch_count"] == 4


def test_worker_max_tasks_per_child_runs_consecutive_tasks_in_new_processes(capp, running):  # noqa: F811
    running({"worker_max_tasks_per_child": 2}, "-p", "1", "-t", "1")
    pids = [capp.pid_of.delay(n).get(timeout=60) for n in range(6)]  # one at a time: nothing is lost
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[4] == pids[5]
    assert len({pids[0], pids[2], pids[4]}) == 3, pids


def test_worker_max_memory_per_child_replaces_the_process(capp, running):  # noqa: F811
    running({"worker_max_memory_per_child": 1}, "-p", "1", "-t", "1")  # 1 KiB: over it after any task
    first = capp.pid_of.delay(0).get(timeout=60)
    assert capp.pid_of.delay(1).get(timeout=60) != first


def test_without_the_supervisor_the_limits_are_not_applied_and_it_says_so(capp, running, tmp_path):  # noqa: F811
    running({"worker_max_tasks_per_child": 1}, "-p", "1", "-t", "1", supervised=False)
    pids = {capp.pid_of.delay(n).get(timeout=30) for n in range(3)}
    assert len(pids) == 1
    log = "".join(path.read_text() for path in tmp_path.glob("w*.log"))
    assert log.count("worker_max_tasks_per_child/worker_max_memory_per_child are not applied") == 1


def test_visibility_timeout_is_the_recovery_timeout_unless_set():
    app = Celery("vt", broker="memory://", set_as_current=False)
    app.conf.broker_transport_options = {"visibility_timeout": 30, "priority_steps": [0, 5, 9]}
    assert app.conf.broker_heartbeat_timeout == 30
    assert app.conf.priority_steps == [0, 5, 9]
    app.conf.broker_heartbeat_timeout = 5
    assert app.conf.broker_heartbeat_timeout == 5
    assert Celery("default", broker="memory://", set_as_current=False).conf.broker_heartbeat_timeout == 10


def test_other_transport_options_warn_once_each(caplog):
    caplog.set_level("WARNING", logger="compat.settings")
    app = Celery("vt", broker="memory://", set_as_current=False)
    app.conf.broker_transport_options = {
        "visibility_timeout": 30,
        "queue_order_strategy": "priority",
        "sep": ":",
        "fanout_patterns": True,
    }
    assert app.broker is not None
    logged = [r.getMessage() for r in caplog.records if r.name == "compat.settings"]
    # sep is read by import-celery (its own row), queue_order_strategy orders the worker's queues;
    # fanout_patterns is not used: one warning
    assert len(logged) == 1 and "broker_transport_options key 'fanout_patterns'" in logged[0]

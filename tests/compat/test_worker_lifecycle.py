"""Celery's worker lifecycle and logging signals, and its logging settings, on real ``python -m dramatiq``
workers (``tests.compat.lifecycle_app`` records each signal to a file; the test reads the file)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.compat.conftest import ROOT, stop_worker

# Celery 5.7's order in its default (prefork) worker, main process and child merged (checked against a
# real Celery worker by tests/conformance/test_lifecycle.py); worker_before_create_process is never sent.
ORDER = [
    "import_modules",
    "celeryd_init",
    "worker_init",
    "after_setup_logger",
    "after_setup_task_logger",
    "celeryd_after_setup",
    "worker_process_init",
    "worker_ready",
    "worker_shutting_down",
    "worker_process_shutdown",
    "worker_shutdown",
]


@pytest.fixture
def lifecycle(worker_env, tmp_path):
    """Start/stop helpers for lifecycle_app workers writing to this test's files."""
    import tests.compat.lifecycle_app as module

    started: list[subprocess.Popen] = []

    def start(processes=1, conf=None, queue="lifecycle", **extra_env):
        out = tmp_path / f"signals-{uuid.uuid4().hex[:6]}.jsonl"
        log = tmp_path / "worker.log"
        env = {**worker_env, "LIFECYCLE_OUT": str(out), "LIFECYCLE_CONF": json.dumps(conf or {}), **extra_env}
        argv = [sys.executable, "-m", "dramatiq", "tests.compat.lifecycle_app", "-p", str(processes)]
        argv += ["-t", "2"]
        proc = subprocess.Popen(
            [*argv, "-Q", queue], cwd=ROOT, env=env, stdout=open(log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        started.append(proc)
        wait_for(lambda: len(rows(out, "worker_ready")) == processes, 60, proc, log)
        return proc, out, log

    yield module, start
    for proc in started:
        stop_worker(proc)


def read(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def rows(out: Path, name: str | None = None) -> list[dict]:
    return [row for row in read(out) if name is None or row["signal"] == name]


def wait_for(condition, timeout, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited ({proc.returncode}):\n{log.read_text() if log else ''}")
        time.sleep(0.1)
    raise AssertionError(f"timed out; log:\n{log.read_text() if log else ''}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def test_each_process_sends_the_lifecycle_in_celerys_order_with_its_arguments(lifecycle):
    module, start = lifecycle
    proc, out, log = start(processes=2)
    assert module.say.delay("hello").get(timeout=30) == "hello"
    wait_for(lambda: rows(out, "heartbeat_sent"), 30)
    assert stop(proc) == 0
    by_process: dict[int, list[dict]] = {}
    for row in read(out):
        by_process.setdefault(row["process"], []).append(row)
    assert len(by_process) == 2
    host = socket.gethostname()
    for pid, trail in by_process.items():
        node = f"worker-{pid}@{host}"
        assert [r["signal"] for r in trail if r["signal"] != "heartbeat_sent"] == ORDER
        got = {r["signal"]: r for r in trail}
        assert got["import_modules"]["sender"] == "Celery"
        init = got["celeryd_init"]
        assert init["sender"] == node and init["instance_hostname"] == node and init["conf_is_app_conf"]
        assert init["kwargs"] == ["conf", "instance", "options"]
        assert init["options"]["concurrency"] == 2 and init["options"]["queues"] == ["lifecycle"]
        assert got["worker_init"]["sender"] == "Worker" and got["worker_init"]["hostname"] == node
        assert got["celeryd_after_setup"]["sender"] == node
        assert got["celeryd_after_setup"]["kwargs"] == ["conf", "instance"]
        assert got["worker_process_init"]["sender"] == node and got["worker_process_init"]["kwargs"] == []
        ready = got["worker_ready"]
        assert ready["sender"] == "Consumer" and ready["hostname"] == node
        assert ready["queues"] == ["lifecycle"]
        down = got["worker_shutting_down"]
        assert (down["sender"], down["sig"], down["how"], down["exitcode"]) == (node, "SIGTERM", "Warm", 0)
        ended = got["worker_process_shutdown"]
        assert (ended["sender"], ended["pid"], ended["exitcode"]) == (node, pid, 0)
        assert got["worker_shutdown"]["sender"] == "Worker"
        for name, fmt in (("after_setup_logger", "message"), ("after_setup_task_logger", "task_name")):
            logged = got[name]
            assert logged["kwargs"] == ["colorize", "format", "logfile", "logger", "loglevel"]
            assert logged["loglevel"] == 20 and logged["logfile"] is None and logged["colorize"] is False
            assert f"%({fmt})s" in logged["format"]
        assert got["after_setup_logger"]["logger"] == "root"
        assert got["after_setup_task_logger"]["logger"] == "celery.task"
        assert got["heartbeat_sent"]["sender"] == "MetricsRecorder"


def test_default_logging_uses_celerys_formats_hijacks_root_and_redirects_prints(lifecycle, tmp_path):
    module, start = lifecycle
    project = tmp_path / "project.log"
    conf = {
        "worker_log_format": "ROOT %(levelname)s %(name)s %(message)s",
        "worker_task_log_format": "TASK %(task_name)s[%(task_id)s] %(levelname)s %(message)s",
        "worker_redirect_stdouts_level": "ERROR",
    }
    proc, out, log = start(conf=conf, LIFECYCLE_PROJECT_LOG=str(project))
    result = module.say.delay("hi")
    assert result.get(timeout=30) == "hi"
    stop(proc)
    text = log.read_text()
    assert f"TASK lifecycle.say[{result.id}] WARNING task says hi" in text
    assert "ROOT WARNING lifecycle.plain plain says hi" in text
    assert "ROOT ERROR celery.redirected printed hi" in text  # print() went to the logger, at the level
    assert "says hi" not in project.read_text()  # the project's root handler was removed (hijacked)


def test_hijack_off_keeps_the_projects_root_handler_and_redirect_off_leaves_stdout(lifecycle, tmp_path):
    module, start = lifecycle
    project = tmp_path / "project.log"
    conf = {"worker_hijack_root_logger": False, "worker_redirect_stdouts": False}
    proc, out, log = start(conf=conf, LIFECYCLE_PROJECT_LOG=str(project))
    assert module.say.delay("hi").get(timeout=30) == "hi"
    stop(proc)
    assert "PROJECT WARNING plain says hi" in project.read_text()
    lines = log.read_text().splitlines()
    assert "printed hi" in lines  # a bare line: stdout untouched


def test_a_setup_logging_receiver_replaces_the_worker_logging_set_up(lifecycle, tmp_path):
    module, start = lifecycle
    own = tmp_path / "own.log"
    conf = {"worker_task_log_format": "TASK %(task_name)s %(message)s"}
    proc, out, log = start(conf=conf, LIFECYCLE_CUSTOM_LOGGING=str(own))
    assert module.say.delay("hi").get(timeout=30) == "hi"
    stop(proc)
    names = [row["signal"] for row in read(out)]
    assert "setup_logging" in names
    assert "after_setup_logger" not in names and "after_setup_task_logger" not in names
    setup = rows(out, "setup_logging")[0]
    assert setup["kwargs"] == ["colorize", "format", "logfile", "loglevel"] and setup["loglevel"] == 20
    own_text = own.read_text()
    assert "OWN WARNING lifecycle.plain plain says hi" in own_text
    assert "OWN WARNING tests.compat.lifecycle_app task says hi" in own_text  # no task handler of compat's
    text = log.read_text()
    assert "TASK lifecycle.say" not in text
    assert "printed hi" in text.splitlines()  # no redirection either


def test_task_rejected_for_a_body_that_is_no_message_and_for_a_malformed_one(lifecycle, redis_client):
    module, start = lifecycle
    proc, out, log = start()
    namespace = module.app.conf.broker_namespace
    bad = {
        "queue_name": "lifecycle", "actor_name": "lifecycle.say", "args": ["x"], "kwargs": [1, 2],
        "options": {}, "message_id": str(uuid.uuid4()), "message_timestamp": 0,
    }
    with redis_client.pipeline(transaction=False) as pipe:
        for rid, body in (("garbage-1", b"\xff not json"), (bad["message_id"], json.dumps(bad).encode())):
            pipe.hset(f"{namespace}:lifecycle.msgs", rid, body)
            pipe.rpush(f"{namespace}:lifecycle", rid)
        pipe.lpush(f"{namespace}:lifecycle.wake", "-")
        pipe.execute()
    wait_for(lambda: len(rows(out, "task_rejected")) == 2, 30, proc, log)
    stop(proc)
    found = sorted(rows(out, "task_rejected"), key=lambda row: row["exc"])
    assert [row["exc"] for row in found][0].startswith("InvalidTaskError(")
    assert found[1]["exc"] == "None"
    assert all(row["kwargs"] == ["exc", "message"] and row["queue"] == "lifecycle" for row in found)
    assert all(row["sender"] == "Consumer" for row in found)  # the worker's consumer, as in Celery


def test_task_unknown_names_the_task_and_its_id(lifecycle):
    module, start = lifecycle
    proc, out, log = start()
    sent = module.app.send_task("lifecycle.nobody", args=[1], queue="lifecycle")
    wait_for(lambda: rows(out, "task_unknown"), 30, proc, log)
    stop(proc)
    (row,) = rows(out, "task_unknown")
    assert row["sender"] == "Consumer" and row["kwargs"] == ["exc", "id", "message", "name"]
    assert (row["name"], row["id"]) == ("lifecycle.nobody", sent.id)
    assert row["exc"].startswith("NotRegistered(")


def test_a_second_sigterm_is_a_cold_shutdown(lifecycle):
    module, start = lifecycle
    proc, out, log = start()
    worker_pid = rows(out, "worker_ready")[0]["process"]
    module.nap.delay(20)
    time.sleep(1)  # taken: the warm shutdown waits for it, and the second SIGTERM comes meanwhile
    os.kill(worker_pid, signal.SIGTERM)
    time.sleep(1.5)
    os.kill(worker_pid, signal.SIGTERM)
    proc.wait(timeout=60)
    downs = [(row["how"], row["exitcode"]) for row in rows(out, "worker_shutting_down")]
    assert downs == [("Warm", 0), ("Cold", 1)]
    assert [row["exitcode"] for row in rows(out, "worker_process_shutdown")] == [1]
    assert len(rows(out, "worker_shutdown")) == 1


def test_a_plain_worker_imports_the_apps_imports_after_import_modules(lifecycle):
    module, start = lifecycle
    proc, out, log = start(conf={"imports": ["tests.compat.lifecycle_extra"]})
    assert module.app.send_task("lifecycle.extra", args=[21], queue="lifecycle").get(timeout=30) == 42
    stop(proc)
    names = [row["signal"] for row in read(out)]
    assert names.index("import_modules") < names.index("extra_module_imported") < names.index("celeryd_init")

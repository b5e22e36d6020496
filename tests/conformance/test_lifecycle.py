"""Worker lifecycle and logging signals, differential: a real Celery 5.7 worker (prefork, one child) and a
real ``python -m dramatiq`` worker (one process) run the same module (``stacks/*_lifecycle.py``), each
records what its signals carried, and each program below reduces a run to an outcome that must match.

A run: start the worker, wait for ``worker_ready``, run one task that logs and prints, stop the worker
with SIGTERM, read the records and the worker's output. Two runs per stack: Celery's default logging
set-up (with the module's ``worker_log_format``/``worker_task_log_format``), and a ``setup_logging``
receiver. Celery's records come from its main process and its pool child; compat's from its one
process (each Dramatiq worker process is a node whose pool is itself: docs/compat.md, Signals).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACKS_DIR = Path(__file__).parent / "stacks"
POOL = ("worker_process_init", "worker_process_shutdown")
NOT_SENT_BY_COMPAT = ("worker_before_create_process",)


@dataclass
class Run:
    rows: list[dict]
    log: str
    task_id: str

    def names(self, keep: Callable[[str], bool] = lambda name: True) -> list[str]:
        return [row["signal"] for row in self.rows if keep(row["signal"])]

    def facts(self, name: str) -> list[dict]:
        return [{k: v for k, v in row.items() if k not in ("signal", "process")}
                for row in self.rows if row["signal"] == name]


def worker_argv(stack: str) -> list[str]:
    module = f"tests.conformance.stacks.{stack}_lifecycle"
    if stack == "celery":
        return [sys.executable, "-m", "celery", "-A", module, "worker", "-P", "prefork", "-c", "1",
                "--without-heartbeat", "--without-gossip", "--without-mingle", "-Q", "lifecycle",
                "-n", "lifecycle@%h", "--loglevel", "INFO"]
    return [sys.executable, "-m", "dramatiq", module, "-p", "1", "-t", "2", "-Q", "lifecycle"]


def run_worker(stack: str, env: dict, tmp: Path, config: str) -> Run:
    out, log = tmp / f"{stack}-{config}.jsonl", tmp / f"{stack}-{config}.log"
    env = {**env, "LIFECYCLE_OUT": str(out)}
    if config == "custom_logging":
        env["LIFECYCLE_CUSTOM_LOGGING"] = "1"
    module = importlib.import_module(f"tests.conformance.stacks.{stack}_lifecycle")
    with open(log, "wb") as stream:
        proc = subprocess.Popen(worker_argv(stack), cwd=ROOT, env=env, stdout=stream,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while not (out.exists() and '"worker_ready"' in out.read_text()):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{stack} worker did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            result = module.log_line.delay("hello")
            assert result.get(timeout=30) == "hello"
            time.sleep(0.5)  # the task's log lines reach the worker's output
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return Run(rows, log.read_text(), result.id)


@pytest.fixture(scope="module")
def runs(conformance_redis, tmp_path_factory):
    """Both stacks' runs, in both logging configurations."""
    urls = {
        "LIFECYCLE_CELERY_BROKER": f"{conformance_redis}/6",
        "LIFECYCLE_CELERY_BACKEND": f"{conformance_redis}/7",
        "LIFECYCLE_COMPAT_BROKER": f"{conformance_redis}/8",
        "LIFECYCLE_COMPAT_BACKEND": f"{conformance_redis}/8",
    }
    saved = {name: os.environ.get(name) for name in (*urls, "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    os.environ.update(urls)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tmp = tmp_path_factory.mktemp("lifecycle")
    try:
        found = {
            (stack, config): run_worker(stack, env, tmp, config)
            for stack in ("celery", "compat")
            for config in ("default", "custom_logging")
        }
        dump = os.environ.get("LIFECYCLE_DUMP")
        if dump:  # every program's outcome on both stacks, for reading what each did
            lines = []
            for name, (config, fn, _) in PROGRAMS.items():
                lines.append(f"{name}\n  celery: {fn(found[('celery', config)])!r}")
                lines.append(f"  compat: {fn(found[('compat', config)])!r}")
            Path(dump).write_text("\n".join(lines))
        yield found
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- programs: a run in, a comparable outcome out ------------------------------------------------------
PROGRAMS: dict[str, tuple[str, Callable[[Run], object], object]] = {}


def program(config: str = "default", expect: object = None) -> Callable:
    def register(fn):
        PROGRAMS[fn.__name__] = (config, fn, expect)
        return fn

    return register


@program(expect=["import_modules", "celeryd_init", "worker_init", "after_setup_logger",
                 "after_setup_task_logger", "celeryd_after_setup", "worker_ready", "worker_shutting_down",
                 "worker_shutdown"])
def node_signal_order(run):
    return run.names(lambda name: name not in POOL and name not in NOT_SENT_BY_COMPAT)


@program(expect=["worker_process_init", "worker_process_shutdown"])
def pool_signal_order(run):
    return run.names(lambda name: name in POOL)


@program(expect=True)
def pool_ready_before_worker_ready(run):
    names = run.names()
    return names.index("celeryd_after_setup") < names.index("worker_process_init") < names.index(
        "worker_ready")


@program(expect=[{"kwargs": [], "sender_is_app": True}])
def import_modules_sender(run):
    return run.facts("import_modules")


@program()
def celeryd_init_kwargs(run):
    return run.facts("celeryd_init")


@program()
def celeryd_after_setup_kwargs(run):
    return run.facts("celeryd_after_setup")


@program()
def worker_init_sender(run):
    return run.facts("worker_init")


@program()
def worker_shutdown_sender(run):
    return run.facts("worker_shutdown")


@program(expect=[{"kwargs": [], "sender_is_node": True}])
def worker_process_init_sender(run):
    return run.facts("worker_process_init")


@program()
def worker_ready_sender(run):
    return run.facts("worker_ready")


@program(expect=[{"kwargs": ["exitcode", "how", "sig"], "sender_is_node": True, "sig": "SIGTERM",
                  "how": "Warm", "exitcode": 0}])
def worker_shutting_down_kwargs(run):
    return run.facts("worker_shutting_down")


@program(expect=[{"kwargs": ["exitcode", "pid"], "pid_is_own": True, "exitcode": 0, "sender_is_str": True}])
def worker_process_shutdown_kwargs(run):
    return run.facts("worker_process_shutdown")


@program()
def after_setup_logger_kwargs(run):
    return run.facts("after_setup_logger")


@program()
def after_setup_task_logger_kwargs(run):
    return run.facts("after_setup_task_logger")


@program(expect=True)
def task_logger_line_in_worker_task_log_format(run):
    return f"TASK lifecycle.log_line[{run.task_id}] WARNING: task logger: hello" in run.log


@program(expect=True)
def plain_logger_line_in_worker_log_format(run):
    return "ROOT WARNING lifecycle.plain: plain logger: hello" in run.log


@program(expect=True)
def print_redirected_to_the_logger_at_its_level(run):
    return "ROOT ERROR celery.redirected: printed: hello" in run.log


@program("custom_logging")
def setup_logging_receiver_kwargs(run):
    return run.facts("setup_logging")


@program("custom_logging", expect=["setup_logging"])
def setup_logging_receiver_replaces_the_set_up(run):
    return run.names(lambda name: "logg" in name)


@program("custom_logging", expect=[False, False])
def setup_logging_receiver_no_formats_no_redirect(run):
    return [f"TASK lifecycle.log_line[{run.task_id}]" in run.log, "celery.redirected" in run.log]


# What compat deliberately does not do (docs/compat.md, Signals): outcome on Celery, then on compat.
DIFFERS = {
    "worker_before_create_process_sent": (["worker_before_create_process"], []),
}


@program()
def worker_before_create_process_sent(run):
    return run.names(lambda name: name in NOT_SENT_BY_COMPAT)


CASES = [
    pytest.param(name, stack, id=f"{name}-{stack}") for name in PROGRAMS for stack in ("celery", "compat")
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("name", "stack"), CASES)
def test_lifecycle_program(runs, name, stack):
    config, fn, expect = PROGRAMS[name]
    celery = fn(runs[("celery", config)])
    if stack == "celery":
        if name in DIFFERS:
            expect = DIFFERS[name][0]
        if expect is not None:
            assert celery == expect, "Celery itself did not do what the suite expects"
        return
    got = fn(runs[("compat", config)])
    assert got == (DIFFERS[name][1] if name in DIFFERS else celery)


def test_lifecycle_stack_modules_differ_only_in_the_import_lines():
    celery = (STACKS_DIR / "celery_lifecycle.py").read_text().splitlines()
    compat = (STACKS_DIR / "compat_lifecycle.py").read_text().splitlines()
    differing = [(a, b) for a, b in zip(celery, compat, strict=True) if a != b]
    assert len(celery) == len(compat) and len(differing) == 2
    assert all(a.replace("celery", "compat", 1) == b and "# STACK IMPORT" in a for a, b in differing)

"""A real Dramatiq worker process running ``tests.compat.worker_app`` on the test Redis."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from compat.utils.procs import live_children

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    env: dict[str, str],
    module: str,
    processes: int = 1,
    threads: int = 4,
    log: Path | None = None,
    queues: list[str] | None = None,
    wait: bool = True,
) -> subprocess.Popen:
    """Start ``python -m dramatiq module`` and wait until it heartbeats in Redis (``wait=False``: do not
    wait, for a worker meant to die at once, which may be gone before its heartbeat is seen)."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    argv = [sys.executable, "-m", "dramatiq", module, "-p", str(processes), "-t", str(threads)]
    if queues:
        argv += ["-Q", *queues]
    stores = env.get("COMPAT_TEST_STORES") or env.get("COMPAT_TEST_BACKEND") or env["COMPAT_TEST_BROKER"]
    client = redis.Redis.from_url(stores)
    key = f"{env['COMPAT_TEST_NS']}:__heartbeats__"
    if env["COMPAT_TEST_BROKER"].startswith("amqp"):  # no heartbeats in Redis: the metrics' worker index
        key = f"{env['COMPAT_TEST_NS']}:metrics:workers"
    known = set(client.zrange(key, 0, -1))
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    if not wait:
        return proc
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}; see {log}")
        if len(set(client.zrange(key, 0, -1)) - known) >= processes:
            time.sleep(0.3)
            return proc
        time.sleep(0.1)
    stop_worker(proc)
    raise RuntimeError("worker did not start within 30 s")


def start_supervised(
    env: dict, log, processes: int = 1, threads: int = 1, queue: str = "crash",
    module: str = "tests.compat.worker_app", supervisor_args: tuple[str, ...] = ("--restart-delay", "0.5"),
) -> subprocess.Popen:
    """``compat.supervisor`` over a worker group (by default one 1-thread process on the ``crash`` queue),
    started again when one of its processes dies, in its own session; stop it with :func:`stop_worker`."""
    argv = [sys.executable, "-m", "compat.supervisor", *supervisor_args, module,
            "-p", str(processes), "-t", str(threads), "-Q", queue]
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_worker(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a worker group gracefully (SIGTERM to its master), then SIGKILL whatever is left of it: its
    process group, and every process below it (``compat.supervisor`` starts each group in a session of
    its own, which a kill of the supervisor's group does not reach)."""
    below = _descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _descendants(pid: int) -> set[int]:
    return _descendants_of({pid})


def _descendants_of(pids: set[int]) -> set[int]:
    found: set[int] = set()
    for pid in pids:
        children = live_children(pid) or set()
        found |= children | _descendants_of(children)
    return found


def assert_no_swallowed_errors(log: Path) -> None:
    """Fail on CRITICAL lines in a worker log: Dramatiq logs (and swallows) exceptions raised inside
    middleware hooks there, so such a line is a facade bug that no assertion would otherwise see."""
    marks = ("[CRITICAL]", ": CRITICAL/")  # Dramatiq's log format, Celery's (worker_log_format)
    critical = [line for line in log.read_text().splitlines() if any(mark in line for mark in marks)]
    assert not critical, "\n".join(critical)


def session_worker(env: dict, module: str, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """Body of a session-scoped worker fixture: start ``module``'s worker, then stop it and check its log."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_worker(env, module, log=log)
    yield proc
    stop_worker(proc)
    assert_no_swallowed_errors(log)


@pytest.fixture(autouse=True)
def explicit_broker_urls(monkeypatch):
    """Like Celery, compat lets env CELERY_BROKER_URL/CELERY_RESULT_BACKEND override an app's URLs; these
    tests give their apps explicit URLs (in-memory, private servers), so the variables are hidden here."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)


@pytest.fixture(scope="session")
def worker_env(redis_url):
    namespace = f"test:{uuid.uuid4().hex[:10]}"
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    env = {
        **inherited,
        "COMPAT_TEST_BROKER": redis_url,
        "COMPAT_TEST_NS": namespace,
        "PYTHONPATH": str(ROOT),
        "dramatiq_restart_delay": "500",
    }
    os.environ["COMPAT_TEST_BROKER"] = redis_url
    os.environ["COMPAT_TEST_NS"] = namespace
    _SESSION["env"] = env
    yield env
    client = redis.Redis.from_url(redis_url)
    for prefix in (namespace + ":", namespace + "-res:"):
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(scope="session")
def tasks(worker_env):
    """The worker app module, imported in this process with the session's broker and namespaces."""
    return importlib.import_module("tests.compat.worker_app")


@pytest.fixture
def crash_env(worker_env, tasks):
    """Worker settings that find a killed worker quickly, on a ``crash`` queue only these tests consume."""
    return {
        **worker_env,
        "COMPAT_TEST_EXTRA_QUEUES": "crash",
        "COMPAT_TEST_HEARTBEAT_TIMEOUT": "2",
        "COMPAT_TEST_MAINTENANCE_INTERVAL": "0.5",
    }


#: The session's worker env (``worker_env``), for ``shared_worker`` (which must not name ``worker_env``: a
#: module may override that name, tests/compat/brokers.py).
_SESSION: dict = {}


@pytest.fixture(scope="session")
def shared_worker(tmp_path_factory):
    """One worker process (4 threads) on the session's Redis, for every module that wants it."""
    yield from session_worker(_SESSION["env"], "tests.compat.worker_app", tmp_path_factory)


@pytest.fixture(scope="session")
def worker(worker_env, tasks, shared_worker):
    """One worker process (4 threads) for the session's integration tests."""
    yield shared_worker

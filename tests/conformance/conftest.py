"""Session fixtures of the conformance suite: a private Redis, both stacks, and one real worker per stack.

Everything runs on a redis-server this session starts (never the shared one): Celery uses DBs 1-2,
compat DBs 3-4, the side channel DB 5. Workers start once per session and are stopped by pid.
"""

from __future__ import annotations

import contextlib
import os
import pprint
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.conformance.harness import STACKS, Stack, run_program
from threads.redis_server import PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("conf", "conf_routed", "conf_explicit")
OVERRIDING_ENV = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")  # both stacks let these win over the app


def worker_argv(stack: str) -> list[str]:
    module = f"tests.conformance.stacks.{stack}_tasks"
    if stack == "celery":
        return [sys.executable, "-m", "celery", "-A", module, "worker", "-P", "prefork", "-c", "3",
                "--without-heartbeat", "--without-gossip", "--without-mingle", "-Q", ",".join(QUEUES),
                "-n", "conformance@%h", "--loglevel", "INFO"]
    return [sys.executable, "-m", "dramatiq", module, "-p", "1", "-t", "4"]


class Worker:
    """One worker process group we started; stopped by its pid."""

    def __init__(self, stack: str, env: dict[str, str], log: Path) -> None:
        self.stack = stack
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(worker_argv(stack), cwd=ROOT, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, stack: Stack, timeout: float = 60.0) -> None:
        """Wait until the worker runs a task end to end."""
        stack.app.conf.task_always_eager = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.stack} worker exited ({self.proc.returncode}); see {self.log}")
            try:
                if stack.module.identity.delay("ready").get(timeout=2) == "ready":
                    return
            except Exception:  # not consuming yet
                continue
        raise RuntimeError(f"{self.stack} worker did not start in {timeout}s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()


class Stacks:
    """Both stacks, with Celery's outcomes cached per (program, mode) for the session."""

    def __init__(self, stacks: dict[str, Stack]) -> None:
        self.by_name = stacks
        self.cache: dict[tuple[str, str, str], dict] = {}

    def outcome(self, stack: str, prog, mode: str) -> dict:
        key = (stack, prog.name, mode)
        if key not in self.cache:
            self.cache[key] = run_program(self.by_name[stack], prog, mode)
        return self.cache[key]


@pytest.fixture(scope="session")
def conformance_redis(tmp_path_factory):
    """A private redis-server for this session, stopped by pid at the end."""
    with PrivateRedis(tmp_path_factory.mktemp("conformance-redis")) as server:
        yield f"redis://127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def stacks(conformance_redis, tmp_path_factory):
    """Both stacks imported in this process, each with its real worker running."""
    namespace = f"conf-{uuid.uuid4().hex[:8]}"
    settings = {
        "CONFORMANCE_CELERY_BROKER": f"{conformance_redis}/1",
        "CONFORMANCE_CELERY_BACKEND": f"{conformance_redis}/2",
        "CONFORMANCE_COMPAT_BROKER": f"{conformance_redis}/3",
        "CONFORMANCE_COMPAT_BACKEND": f"{conformance_redis}/4",
        "CONFORMANCE_COMPAT_NAMESPACE": namespace,
        "CONFORMANCE_CELERY_NAMESPACE": namespace,
        "CONFORMANCE_SIDE": f"{conformance_redis}/5",
    }
    saved = {name: os.environ.get(name) for name in (*settings, *OVERRIDING_ENV)}
    os.environ.update(settings)
    for name in OVERRIDING_ENV:
        os.environ.pop(name, None)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "dramatiq_restart_delay": "500"}
    side = redis.Redis.from_url(settings["CONFORMANCE_SIDE"])
    loaded = {name: Stack.load(name, side) for name in STACKS}
    logs = tmp_path_factory.mktemp("conformance-workers")
    workers = [Worker(name, env, logs / f"{name}.log") for name in STACKS]
    try:
        for worker in workers:
            worker.wait_ready(loaded[worker.stack])
        both = Stacks(loaded)
        yield both
        dump = os.environ.get("CONFORMANCE_DUMP")
        if dump:  # every outcome of the session, for reading what Celery and compat did
            Path(dump).write_text(pprint.pformat(both.cache, width=110))
    finally:
        for worker in workers:
            worker.stop()
        side.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def as_imported(module):
    """``module`` as its name's entry in ``sys.modules`` for the block (two copies of one tasks module)."""
    saved = sys.modules.get(module.__name__)
    sys.modules[module.__name__] = module
    try:
        yield module
    finally:
        if saved is not None:
            sys.modules[module.__name__] = saved


@pytest.fixture(scope="session")
def rabbit_stack(stacks, conformance_redis, tmp_path_factory):
    """compat again, on RabbitMQ (a vhost of this session's own), with its real worker: the worker-mode
    programs run on it too (test ids ``...-compat-rabbitmq-worker``). Results stay in Redis (DB 6)."""
    from tests.rabbitmq_support import module_copy, node

    rabbit = node(tmp_path_factory.getbasetemp())
    vhost = rabbit.add_vhost("conformance")
    settings = {
        "CONFORMANCE_COMPAT_BROKER": rabbit.url(vhost),
        "CONFORMANCE_COMPAT_BACKEND": f"{conformance_redis}/6",
        "CONFORMANCE_COMPAT_NAMESPACE": f"conf-rmq-{uuid.uuid4().hex[:8]}",
    }
    side = redis.Redis.from_url(os.environ["CONFORMANCE_SIDE"])
    # compat_classes declares tasks on compat_tasks' app: the copy needs its own, on the copy's app.
    classes = "tests.conformance.stacks.compat_classes"
    with module_copy("tests.conformance.stacks.compat_tasks", settings, dependents=(classes,)):
        stack = Stack.load("compat", side)
    env = {**os.environ, **settings, "PYTHONPATH": str(ROOT), "dramatiq_restart_delay": "500"}
    worker = Worker("compat", env, tmp_path_factory.mktemp("conformance-rabbitmq") / "compat.log")
    try:
        worker.wait_ready(stack)
        yield stack
    finally:
        worker.stop()
        stack.app.broker.close()
        side.close()
        rabbit.delete_vhost(vhost)

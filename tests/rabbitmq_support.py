"""RabbitMQ for the tests: the machine's node (127.0.0.1:5672, guest/guest), else a private node, else skip.

Every test module works in a vhost of its own (``rabbitmqctl add_vhost``, unique name), deleted afterwards,
so no test touches the default vhost's queues. Where no RabbitMQ answers and the ``rabbitmq-server``
binary exists, one private node is started for the session on free ports and stopped by pid at exit.
Without either, the RabbitMQ tests fail in CI (``CI`` or ``COMPAT_REQUIRE_RABBITMQ`` set) and are skipped
elsewhere with one line saying why.

``PrivateRabbit`` is also what the broker-restart test restarts: never the machine's shared node.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SHARED_HOST = os.environ.get("RABBITMQ_HOST", "127.0.0.1")
SHARED_PORT = int(os.environ.get("RABBITMQ_PORT", "5672"))
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether an AMQP server answers on host:port (it replies to the protocol header)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(8)[:1] == b"\x01"  # connection.start frame
    except OSError:
        return False


class Node:
    """A RabbitMQ node the tests may create vhosts on."""

    host = "127.0.0.1"
    port = SHARED_PORT
    management_port: int | None = None

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [*self._ctl_argv(), *args], capture_output=True, text=True, timeout=60, env=self._ctl_env()
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}"
            )
        return done.stdout

    def url(self, vhost: str) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/{vhost}"

    #: Vhosts made ahead in one ``rabbitmqctl eval`` (each rabbitmqctl call costs seconds of CLI start-up).
    POOL = 6

    def add_vhost(self, prefix: str = "compat-test") -> str:
        """A new vhost (unique name) with all permissions for guest."""
        pool = self.__dict__.setdefault("_pool", [])
        if not pool:
            names = [f"{prefix}-{uuid.uuid4().hex[:10]}" for _ in range(self.POOL)]
            listed = ", ".join(f'<<"{name}">>' for name in names)
            self.ctl(
                "eval",
                'lists:foreach(fun(V) -> rabbit_vhost:add(V, <<"compat-tests">>), '
                'rabbit_auth_backend_internal:set_permissions(<<"guest">>, V, <<".*">>, <<".*">>, '
                f'<<".*">>, <<"compat-tests">>) end, [{listed}]), ok.',
            )
            if not self.__dict__.get("_cleanup"):
                self._cleanup = True
                atexit.register(self._drop_unused)
            pool.extend(names)
        return pool.pop()

    def delete_vhost(self, name: str) -> None:
        """Delete ``name`` in the background (the next tests need not wait for the CLI)."""
        proc = subprocess.Popen(
            [*self._ctl_argv(), "delete_vhost", name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self._ctl_env(),
        )
        self.__dict__.setdefault("_deleting", []).append(proc)

    def _drop_unused(self) -> None:
        """At exit: delete the vhosts made ahead and not used, and wait for every deletion."""
        unused, self._pool = self.__dict__.get("_pool", []), []
        for name in unused:
            self.delete_vhost(name)
        for proc in self.__dict__.get("_deleting", []):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _ctl_argv(self) -> list[str]:
        return [shutil.which("rabbitmqctl") or CTL]

    def _ctl_env(self) -> dict[str, str] | None:
        return None


class SharedNode(Node):
    """The machine's RabbitMQ (``rabbitmqctl`` reaches it as installed)."""

    def __init__(self) -> None:
        self.host, self.port = SHARED_HOST, SHARED_PORT


class PrivateRabbit(Node):
    """A rabbitmq-server node of our own on free ports (data under ``base``), stopped and restarted by pid."""

    def __init__(self, base: Path, management: bool = False) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.name = f"compat-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.management_port = free_port() if management else None
        self.proc: subprocess.Popen | None = None
        (self.base / "env.conf").write_text("")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
            + (
                f"management.tcp.port = {self.management_port}\nmanagement.tcp.ip = 127.0.0.1\n"
                if management
                else ""
            )
        )
        (self.base / "plugins").write_text("[rabbitmq_management]." if management else "[].")

    @property
    def env(self) -> dict[str, str]:
        base = str(self.base)
        return {
            **os.environ,
            "HOME": base,  # its own Erlang cookie
            "RABBITMQ_CONF_ENV_FILE": f"{base}/env.conf",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": f"{base}/rabbitmq.conf",
            "RABBITMQ_MNESIA_BASE": f"{base}/mnesia",
            "RABBITMQ_LOG_BASE": f"{base}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{base}/plugins",
            "RABBITMQ_PLUGINS_EXPAND_DIR": f"{base}/expand",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 90.0) -> PrivateRabbit:
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [SERVER], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"rabbitmq-server exited ({self.proc.returncode}); see {self.base}/server.log"
                )
            if answers("127.0.0.1", self.port) and (
                self.management_port is None or _http_answers(self.management_port)
            ):
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"rabbitmq-server did not start in {timeout}s; see {self.base}/server.log")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 30
        while answers("127.0.0.1", self.port, timeout=0.3) and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _ctl_argv(self) -> list[str]:
        return [CTL, "-n", self.name]

    def _ctl_env(self) -> dict[str, str] | None:
        return self.env


def _http_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def can_start_private() -> bool:
    return Path(SERVER).exists() and Path(CTL).exists()


def required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("COMPAT_REQUIRE_RABBITMQ"))


_NODE: list[Node] = []


def node(tmp_root: Path | None = None) -> Node:
    """The session's node: the machine's if it answers, else a private one; skips (fails in CI) without."""
    if _NODE:
        return _NODE[0]
    if answers(SHARED_HOST, SHARED_PORT) and (shutil.which("rabbitmqctl") or Path(CTL).exists()):
        _NODE.append(SharedNode())
        return _NODE[0]
    if can_start_private():
        base = Path(tmp_root or f"/tmp/compat-rabbit-{os.getpid()}") / "rabbitmq-private"
        private = PrivateRabbit(base).start()
        atexit.register(private.stop)
        _NODE.append(private)
        return private
    why = f"no RabbitMQ answers on {SHARED_HOST}:{SHARED_PORT} and rabbitmq-server is not installed"
    if required():
        pytest.fail(f"RabbitMQ tests need a RabbitMQ: {why}", pytrace=False)
    pytest.skip(f"RabbitMQ tests skipped: {why}")


@pytest.fixture(scope="module")
def rabbitmq_url(tmp_path_factory):
    """An amqp:// URL of a vhost made for this test module, deleted afterwards."""
    found = node(tmp_path_factory.getbasetemp())
    vhost = found.add_vhost()
    yield found.url(vhost)
    found.delete_vhost(vhost)


def node_and_vhost(tmp_path_factory) -> Iterator[tuple[Node, str]]:
    """For a module fixture: ``(node, vhost)``, the session's node and a vhost made for the module, deleted
    afterwards (``yield from node_and_vhost(tmp_path_factory)``)."""
    found = node(tmp_path_factory.getbasetemp())
    vhost = found.add_vhost()
    yield found, vhost
    found.delete_vhost(vhost)


@contextlib.contextmanager
def closing_apps(build):
    """``make(**settings)``: an app from ``build``; at the end every app made is emptied and closed."""
    made = []

    def make(**settings):
        app = build(**settings)
        made.append(app)
        return app

    try:
        yield make
    finally:
        for app in made:
            app.broker.flush_all()
            app.broker.close()


@contextlib.contextmanager
def module_copy(name: str, env: dict[str, str], dependents: tuple[str, ...] = ()) -> Iterator[ModuleType]:
    """A fresh copy of module ``name`` imported with ``env`` set, standing in for it in ``sys.modules``
    until the block ends (a second app on another broker, with the same task names). ``dependents`` are
    modules that ``name`` imports and that declare tasks on its app: they are imported afresh too, so
    their tasks are the copy's, and the originals are back after the block."""
    hidden = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")  # they would win over the app's own URLs
    saved_env = {key: os.environ.get(key) for key in (*env, *hidden)}
    saved_module = sys.modules.get(name)
    saved_dependents = {dep: sys.modules.pop(dep) for dep in dependents if dep in sys.modules}
    for key in hidden:
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        spec = importlib.util.find_spec(name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        yield module
    finally:
        if saved_module is not None:
            sys.modules[name] = saved_module
        else:
            sys.modules.pop(name, None)
        for dep in dependents:
            sys.modules.pop(dep, None)
        sys.modules.update(saved_dependents)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def queued_ids(url: str, queue: str) -> list[str]:
    """The message ids in ``queue``, read off with basic_get (and acknowledged)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        ids = []
        while True:
            method, properties, _ = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            ids.append(properties.message_id)
    finally:
        connection.close()

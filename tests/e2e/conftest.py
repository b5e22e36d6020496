"""End-to-end stacks: the real web server, ``rundramatiq`` workers and the scheduler, on the test
database and the test Redis, with unique key namespaces. The test process reads effects through the ORM
(``transaction=True`` tests) and talks to the stack over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from tests.helpers import free_port, wait_for_http
from tests.threads.support import domain, threads_current  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """A URL for the test database pytest-django created (so other processes use the same one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Stack:
    """web + worker (+ scheduler) processes sharing one environment; HTTP helpers for the tests."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.procs = env, logs, {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redis = redis.Redis.from_url(env["CELERY_BROKER_URL"])

    def start(self, scheduler: bool = True) -> Stack:
        manage = [sys.executable, str(ROOT / "manage.py")]
        self._spawn("worker", manage + ["rundramatiq", "--processes", "1", "--threads", "4"])
        self._spawn("web", manage + ["runserver", f"127.0.0.1:{self.port}", "--noreload"])
        if scheduler:
            self._spawn(
                "scheduler",
                manage + ["scheduler", "--key-prefix", self.env["THREADS_REDIS_PREFIX"] + "sched"],
            )
        if wait_for_http(f"{self.base}/healthz", 60, self.procs["web"]) != 200:
            raise RuntimeError(f"web did not start; see {self.logs}/web.log")
        deadline = time.monotonic() + 60
        key = f"{self.env['CELERY_BROKER_NAMESPACE']}:__heartbeats__"
        while self.redis.zcard(key) < 1:  # the worker's broker heartbeats once it consumes
            if time.monotonic() > deadline or self.procs["worker"].poll() is not None:
                raise RuntimeError(f"worker did not start; see {self.logs}/worker.log")
            time.sleep(0.1)
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for prefix in (
            self.env["CELERY_BROKER_NAMESPACE"],
            self.env["CELERY_RESULT_NAMESPACE"],
            self.env["THREADS_REDIS_PREFIX"].rstrip(":"),
        ):
            keys = list(self.redis.scan_iter(match=prefix + "*", count=1000))
            if keys:
                self.redis.delete(*keys)
        self.redis.close()

    # -- HTTP ---------------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if token:
            headers["Authorization"] = f"Token {token}"
        if files:
            boundary = uuid.uuid4().hex
            parts = []
            for field, (filename, content) in files.items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                    f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                    + content
                    + b"\r\n"
                )
            data = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def manage(self, *args: str, timeout: float = 60) -> str:
        """Run ``manage.py`` with the stack's environment (e.g. ``shell -c`` to call tasks as written)."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def wait_until(check, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll ``check()`` until it returns something truthy; return it (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def make_stack(redis_url: str, tmp: Path, **extra: str) -> Stack:
    ns = f"e2e{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "threads.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "CELERY_BROKER_NAMESPACE": f"{ns}-broker",
        "CELERY_RESULT_NAMESPACE": f"{ns}-result",
        "THREADS_REDIS_PREFIX": f"{ns}-app:",
        "THREADS_VAR_DIR": str(tmp),
        "THREADS_MEDIA_ROOT": str(tmp / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp / "mail"),
        "THREADS_AI_RETRY_COUNTDOWN": "0.2",
        "THREADS_COUNTER_FLUSH_INTERVAL": "0.5",
        "OPENAI_API_KEY": "",
        "DJANGO_DEBUG": "false",
        "dramatiq_restart_delay": "500",
        **extra,
    }
    (tmp / "logs").mkdir(parents=True, exist_ok=True)
    return Stack(env, tmp / "logs")


@pytest.fixture
def app_settings(settings):
    """Point this (test) process's counter reads at a stack's Redis keys."""

    def use(stack: Stack) -> None:
        settings.THREADS_REDIS_URL = stack.env["CELERY_BROKER_URL"]
        settings.THREADS_REDIS_PREFIX = stack.env["THREADS_REDIS_PREFIX"]

    return use

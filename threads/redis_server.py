"""A private, throwaway Redis server for `make run` and `make test`.

Used when no broker is configured: starts the `redis-server` found on PATH on a free
loopback port, with persistence off and its files under a directory of ours, and stops
it again by pid. Nothing here touches a Redis we did not start.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


class RedisServerError(RuntimeError):
    """The private Redis could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def find_redis_server() -> str:
    """Return the path of a `redis-server` binary, or raise RedisServerError."""
    path = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    if not path:
        raise RedisServerError(
            "no redis-server found on PATH: install Redis or set CELERY_BROKER_URL to a running one"
        )
    return path


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the parent dies (Linux), so no Redis is orphaned."""
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


@dataclass
class PrivateRedis:
    """One redis-server process we own, listening on 127.0.0.1:`port`, files in `directory`.

    `durable` turns on an fsync-always append-only file, so that a stop and a `start()` again (on the
    same port) keep every key: tests use it to take Redis away from running workers and bring it back.
    """

    directory: Path
    port: int = 0
    durable: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def log_file(self) -> Path:
        return self.directory / "redis.log"

    def start(self, timeout: float = 10.0, attempts: int = 3) -> PrivateRedis:
        """Start the server and wait until it answers PING.

        The first start takes a free port and retries on a port race; a start after `stop()` reuses
        the port, so clients of the old server reconnect to the new one.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        binary = find_redis_server()
        persistence = ["--appendonly", "no"]
        if self.durable:
            persistence = ["--appendonly", "yes", "--appendfsync", "always"]
        fixed_port = bool(self.port)
        last_error = ""
        for _ in range(1 if fixed_port else attempts):
            if not fixed_port:
                self.port = free_port()
            args = [
                binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", *persistence, "--dir", str(self.directory),
                "--pidfile", str(self.directory / "redis.pid"),
                "--logfile", str(self.log_file), "--daemonize", "no",
            ]
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
            )
            if self._wait_ready(timeout):
                return self
            last_error = self._log_tail()
            self.stop()
        raise RedisServerError(f"redis-server did not start: {last_error or 'no output'}")

    def _wait_ready(self, timeout: float) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.RedisError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its pid: SIGTERM, then SIGKILL if it lingers."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""The bench's private world: a Redis server it starts (or one it is given), worker processes it starts,
and the Redis and /proc readings the workloads are measured with.

Every process is started in its own session (so it leads its own process group) and is stopped by
that group id; each one is also recorded in ``<run dir>/pids`` so the parent can stop anything a crashed
or interrupted child left behind.
"""

from __future__ import annotations

import compileall
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from threads.redis_server import PrivateRedis

#: the checkout's packages the stacks' workers import (the peers' code comes from site-packages)
PROJECT_PACKAGES = ("compat", "bench")


def compile_bytecode(root: Path | None = None) -> bool:
    """Write the project's bytecode before any worker starts; False if a source did not compile.

    Every peer runs from site-packages, whose bytecode pip wrote at install. compat runs from the
    checkout, and where ``PYTHONDONTWRITEBYTECODE`` is set (this machine, the Dockerfile) nothing
    writes it: each worker then compiled compat's ~85 modules at boot, which cost it ~1.3 MB of RSS
    and ~90 ms (the compiler's leftovers), a cost no installed deployment pays. ``compileall`` writes
    regardless of that variable, and only what is stale.
    """
    root = root or Path(__file__).resolve().parent.parent
    return all(compileall.compile_dir(root / name, quiet=1) for name in PROJECT_PACKAGES)


def register_pid(run_dir: Path, pid: int) -> None:
    """Record a process group this run started, for the last-resort cleanup."""
    pids = run_dir / "pids"
    pids.mkdir(parents=True, exist_ok=True)
    (pids / str(pid)).touch()


def forget_pid(run_dir: Path, pid: int) -> None:
    (run_dir / "pids" / str(pid)).unlink(missing_ok=True)


def kill_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, wait up to ``grace`` seconds, then SIGKILL it and wait
    until every process of it is gone.

    The last wait matters: a SIGKILLed worker on a loaded machine can take a while to be scheduled and
    die, and until it does Redis still counts its blocked read as a live consumer; a message sent in
    that window is handed to the dying process (seen with taskiq's XREADGROUP: the message then sits
    in a dead consumer's pending list and the next drain never completes).
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30.0
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _pgrp_of(entry.name) == pgid and _state_of(entry.name) != "Z":
            return True
    return False


def _stat_fields(pid: str) -> list[str] | None:
    try:
        raw = (Path("/proc") / pid / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _pgrp_of(pid: str) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else None


def _state_of(pid: str) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every live process in a process group, in MiB."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _pgrp_of(entry.name) != pgid:
            continue
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


_TICK = os.sysconf("SC_CLK_TCK")


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (``/proc/<pid>/stat``)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields and int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICK


def reap_leftovers(run_dir: Path) -> None:
    """Stop every process group this run recorded and did not stop itself."""
    pids = run_dir / "pids"
    if not pids.is_dir():
        return
    for entry in pids.iterdir():
        if entry.name.isdigit():
            kill_group(int(entry.name), grace=3.0)
        entry.unlink(missing_ok=True)


class RedisServer:
    """The bench's private Redis (``threads.redis_server.PrivateRedis``, no persistence), its pid recorded
    in the run directory so that an interrupted run's leftovers are reaped."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.server = PrivateRedis(run_dir / "redis")

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def pid(self) -> int | None:
        return self.server.pid

    def start(self) -> None:
        self.server.start()
        register_pid(self.run_dir, self.server.pid)

    def stop(self) -> None:
        pid = self.server.pid
        self.server.stop()
        if pid is not None:
            forget_pid(self.run_dir, pid)


def owns(client: redis.Redis, server_pid: int | None) -> bool:
    """True when the Redis behind ``client`` is the server this run started (never flush any other)."""
    return server_pid is not None and int(client.info("server")["process_id"]) == server_pid


def clear(client: redis.Redis, prefixes: list[str], server_pid: int | None) -> None:
    """Empty our own Redis; on a Redis we were given, delete only the keys under our run's prefixes."""
    if owns(client, server_pid):
        client.flushall()
        return
    for prefix in prefixes:
        batch = []
        for key in client.scan_iter(match=prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)


def command_count(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the server started (``INFO commandstats``)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def commands_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Per-command call deltas, leaving out the bench's own INFO calls."""
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    delta.pop("info", None)
    return {name: count for name, count in delta.items() if count}


def command_usec(client: redis.Redis) -> float:
    """Microseconds Redis spent executing commands since it started (``INFO commandstats`` usec)."""
    stats = client.info("commandstats")
    return float(sum(value["usec"] for name, value in stats.items() if name != "cmdstat_info"))


def redis_cpu_s(client: redis.Redis) -> float:
    """CPU seconds of the Redis server process so far (``INFO cpu``: all its threads, user + system)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def net_bytes(client: redis.Redis) -> int:
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]) + int(stats["total_net_output_bytes"])


def stored_bytes(client: redis.Redis, prefixes: list[str]) -> int:
    """Sum of ``MEMORY USAGE key SAMPLES 0`` over every key under ``prefixes``."""
    total = 0
    for prefix in prefixes:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            total += client.memory_usage(key, samples=0) or 0
    return total


class WorkerGroup:
    """Worker processes of one stack, each started in its own session and stopped by group id."""

    def __init__(
        self, commands: list[list[str]], env: dict[str, str], run_dir: Path, log: Path, grace: float = 15.0
    ) -> None:
        self.commands = commands
        self.grace = grace
        self.env = env
        self.run_dir = run_dir
        self.log = log
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        with open(self.log, "ab") as log:
            for command in self.commands:
                proc = subprocess.Popen(
                    command,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
                register_pid(self.run_dir, proc.pid)
                self.procs.append(proc)

    def ensure_started(self) -> None:
        if not self.procs:
            self.start()

    def cpu_s(self) -> float:
        return sum(group_cpu_s(proc.pid) for proc in self.procs)

    def rss_mb(self) -> float:
        return sum(group_rss_mb(proc.pid) for proc in self.procs)

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"worker {proc.args!r} exited with {proc.returncode}; see {self.log}")

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM every group, give each ``grace`` seconds (default: the group's), then SIGKILL."""
        grace = self.grace if grace is None else grace
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            kill_group(proc.pid, grace=grace)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            forget_pid(self.run_dir, proc.pid)
        self.procs = []

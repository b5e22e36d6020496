"""Small helpers shared by the test suites (import as `tests.helpers`)."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from threads.redis_server import free_port

__all__ = ["free_port", "wait_for", "wait_for_http", "descendants", "alive", "errors_in_threads"]


def wait_for(predicate, timeout: float, what: str):
    """The first truthy ``predicate()``, polled every 20 ms; else AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_http(url: str, timeout: float, proc=None) -> int:
    """Poll `url` until it answers 200 (return 200) or `timeout` passes (return last status, 0 if none)."""
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return status
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status = response.status
                if status == 200:
                    return status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return status


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> set[int]:
    """Pids of every live descendant of `pid` (Linux /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def errors_in_threads(work, threads: int, timeout: float = 60) -> list[BaseException]:
    """Run ``work()`` in ``threads`` threads released together (a barrier), wait for them (at most
    ``timeout`` s each); the exceptions they raised."""
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    running = [threading.Thread(target=run) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout)
    return errors

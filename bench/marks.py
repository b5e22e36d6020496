"""Completion marks for the trivial task, with no Redis call: the public method's task does nothing else.

Each worker process counts its completions in memory (``itertools.count``: its ``next`` is atomic under
the GIL) and keeps the time of its first and last one; a daemon thread, started by the first mark,
writes ``count first last`` to ``<BENCH_RUN_DIR>/marks/<pid>`` every 5 ms while the figures change. The
bench client sums those files, so neither the task nor the completion check touches the Redis being
measured. The times are taken by the task itself, so the writer's period only delays the check.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

DIR = Path(os.environ.get("BENCH_RUN_DIR", "/tmp")) / "marks"
PERIOD = 0.005

_count = itertools.count(1)
_times = [0.0, 0.0]  # first, last
_writer: threading.Thread | None = None
_lock = threading.Lock()


def mark() -> None:
    """Count one completion of the trivial task (a few hundred nanoseconds)."""
    n = next(_count)
    now = time.time()
    _times[1] = now
    if n == 1:
        _times[0] = now
        _start_writer()


def _completed() -> int:
    return _count.__reduce__()[1][0] - 1  # the next value count() would hand out, minus one


def _start_writer() -> None:
    global _writer
    with _lock:
        if _writer is None:
            _writer = threading.Thread(target=_write_loop, name="bench-marks", daemon=True)
            _writer.start()


def _write_loop() -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    path, tmp = DIR / str(os.getpid()), DIR / f".{os.getpid()}.tmp"
    written = None
    while True:
        figures = (_completed(), _times[0], _times[1])
        if figures != written:
            tmp.write_text(f"{figures[0]} {figures[1]!r} {figures[2]!r}")
            os.replace(tmp, path)  # the reader never sees half a line
            written = figures
        time.sleep(PERIOD)


def read(directory: Path = DIR) -> tuple[int, float, float]:
    """(completions, first, last) over every worker process that wrote marks."""
    total, first, last = 0, 0.0, 0.0
    if not directory.is_dir():
        return 0, 0.0, 0.0
    for path in directory.iterdir():
        if path.name.startswith("."):
            continue
        try:
            count, t_first, t_last = path.read_text().split()
        except (OSError, ValueError):
            continue
        total += int(count)
        first = float(t_first) if not first else min(first, float(t_first))
        last = max(last, float(t_last))
    return total, first, last


def clear(directory: Path = DIR) -> None:
    """Forget earlier phases' marks (call with the workers stopped)."""
    if directory.is_dir():
        for path in directory.iterdir():
            path.unlink(missing_ok=True)

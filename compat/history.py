"""The recorder's buckets (``compat.metrics``) read back as time series, for the dashboard's charts.

Nothing here is recorded: the series are the 10-second buckets (last hour, one point a minute) and the
5-minute buckets (last 24 hours, one point per bucket) that workers already write in their flush
pipeline, and the queue depth samples taken once per bucket. A read is one pipelined round trip of one
``HGETALL`` per bucket and sample hash in the span (720 for the hour, 576 for the day), or only the
buckets after ``since`` for a live update: the cost depends on the span, never on how many tasks ran.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .metrics import BUCKET_SECONDS, COARSE_SECONDS, DEPTH_FIELDS, RUNTIME_BUCKETS, metrics_key
from .monitoring import _client_and_namespace, _parse_fields, _quantile

#: span name -> (seconds, seconds per point, seconds per bucket, task hash prefix, depth hash prefix)
SPANS = {
    "1h": (3600, 60, BUCKET_SECONDS, "b", "q"),
    "24h": (86400, COARSE_SECONDS, COARSE_SECONDS, "m", "qm"),
}
#: Runtime lines are drawn for this many tasks (the busiest in the span).
RUNTIME_TASKS = 4


def series(
    app: Any, span: str = "1h", since: float | None = None, scheduled: Iterable[str] = ()
) -> dict[str, Any]:
    """Per point of ``span``: finished tasks by state, p50/p95 runtime per task, queue depths, scheduled runs.

    Parameters:
      span: ``"1h"`` or ``"24h"``.
      since: only points starting at or after this epoch second (a live update of a drawn chart).
      scheduled: task names the scheduler runs; their executions are counted as scheduler runs.
    """
    if span not in SPANS:
        raise ValueError(f"span must be one of {', '.join(SPANS)}, not {span!r}")
    seconds, step, size, task_prefix, depth_prefix = SPANS[span]
    client, ns = _client_and_namespace(app)
    now = time.time()
    first = int((now - seconds) // step + 1) * step
    if since is not None:
        first = max(first, int(since // step) * step)
    points = list(range(first, int(now // step) * step + 1, step))
    buckets = range(first // size, int(now // size) + 1)
    with client.pipeline(transaction=False) as pipe:
        for bucket in buckets:
            pipe.hgetall(metrics_key(ns, task_prefix, bucket))
        for bucket in buckets:
            pipe.hgetall(metrics_key(ns, depth_prefix, bucket))
        replies = pipe.execute()
    task_hashes, depth_hashes = replies[: len(buckets)], replies[len(buckets) :]
    index = {point: i for i, point in enumerate(points)}
    slot = [index.get(bucket * size // step * step) for bucket in buckets]
    return {
        "span": span,
        "step": step,
        "times": points,
        **_tasks(task_hashes, slot, len(points), set(scheduled)),
        "queues": _depths(depth_hashes, slot, len(points)),
    }


def _tasks(hashes: list[dict], slot: list[int | None], size: int, scheduled: set[str]) -> dict[str, Any]:
    states: dict[str, list[int]] = {}
    histograms: dict[str, list[list[int]]] = {}
    busy: Counter = Counter()
    runs = [0] * size
    for raw, at in zip(hashes, slot, strict=True):
        if at is None:
            continue
        for task, kind, key, value in _parse_fields(raw or {}):
            if kind == "n":
                states.setdefault(key, [0] * size)[at] += value
                busy[task] += value
                if task in scheduled and key != "RETRY":
                    runs[at] += value
            elif kind == "h" and key.isdigit() and int(key) <= len(RUNTIME_BUCKETS):
                rows = histograms.setdefault(task, [[0] * (len(RUNTIME_BUCKETS) + 1) for _ in range(size)])
                rows[at][int(key)] += value
    runtime = {}
    for task, _ in busy.most_common(RUNTIME_TASKS):
        if task in histograms:
            rows = histograms[task]
            runtime[task] = {
                "p50": [_seconds(_quantile(row, 0.50)) for row in rows],
                "p95": [_seconds(_quantile(row, 0.95)) for row in rows],
            }
    return {"states": states, "runtime": runtime, "scheduled_runs": runs}


def _depths(hashes: list[dict], slot: list[int | None], size: int) -> dict[str, dict[str, list]]:
    """The latest sample in each point, per queue and depth field (None where no worker sampled)."""
    queues: dict[str, dict[str, list]] = {}
    for raw, at in zip(hashes, slot, strict=True):
        if at is None:
            continue
        for field, value in (raw or {}).items():
            queue, _, name = field.decode().rpartition("|")
            if name in DEPTH_FIELDS:
                row = queues.setdefault(queue, {depth: [None] * size for depth in DEPTH_FIELDS})
                row[name][at] = int(value)
    return queues


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)

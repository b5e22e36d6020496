"""Reading what workers record (``compat.metrics``) and what Redis holds, for dashboards.

Queue depths (ready / delayed / in progress / dead), live workers, per-task throughput and p50/p95 over
the last minutes, cumulative totals, recent tasks and a task's details, as plain data. Presenting them
(pages, JSON, Prometheus) is the dashboard's job (the ``ops`` app beside compat).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .metrics import (
    BUCKET_SECONDS,
    DEAD_LETTER_SCAN_LIMIT,
    RUNTIME_BUCKETS,
    SEEN_TTL,
    WORKER_TTL,
    metrics_key,
)
from .stores import redis_for


def _client_and_namespace(app: Any) -> tuple[Any, str]:
    client = redis_for(app)
    if client is None:
        raise LookupError("no Redis keeps metrics here: neither result_backend nor broker_url is Redis")
    return client, app.conf.broker_namespace


def known_queues(app: Any, extra: Iterable[str] = ()) -> list[str]:
    """Queue names the app routes to or declares, that live workers consume, or that ``extra`` names."""
    names = set(app.routed_queues()) | set(app.broker.get_declared_queues()) | set(extra)
    for worker in workers(app):
        names.update(worker.get("queues") or ())
    return sorted({name.removesuffix(".DQ") for name in names if name and not name.endswith(".XQ")})


def dead_letters_by_queue(app: Any) -> tuple[Counter, int]:
    """Dead-letter counts per queue (of the newest ``DEAD_LETTER_SCAN_LIMIT``) and the total count."""
    from .deadletters import store_for

    store = store_for(app)
    if store is None:
        return Counter(), 0
    counts: Counter = Counter()
    for index, record in enumerate(store.iter()):
        if index >= DEAD_LETTER_SCAN_LIMIT:
            break
        counts[record.get("queue") or "(unknown)"] += 1
    return counts, store.count()


def queue_stats(app: Any) -> list[dict[str, Any]]:
    """Every known queue with ``ready``, ``delayed``, ``in_progress``, ``dead`` counts and its ``lanes``.

    The broker's queue inspector reads the first three (``compat.brokers``); dead letters come from the
    dead-letter store.
    """
    _client_and_namespace(app)  # no metrics store: no stats (the dashboard answers 404)
    dead, _ = dead_letters_by_queue(app)
    queues = known_queues(app, extra=[q for q in dead if q != "(unknown)"])
    return [depth.as_dict() for depth in app.broker.inspector().depths(queues, dead=dead)]


def workers(app: Any, include_dead: bool = False) -> list[dict[str, Any]]:
    """Worker processes seen in the last ``WORKER_TTL`` seconds, newest heartbeat first.

    With ``include_dead``, also those seen in the last ``SEEN_TTL`` seconds that have stopped
    heartbeating: ``alive`` tells them apart, ``stopped`` is when one shut down cleanly (None: it died).
    """
    client, ns = _client_and_namespace(app)
    now = time.time()
    since = now - (SEEN_TTL if include_dead else WORKER_TTL)
    ids = client.zrevrangebyscore(metrics_key(ns, "workers"), "+inf", since)
    if not ids:
        return []
    with client.pipeline(transaction=False) as pipe:
        for worker_id in ids:
            pipe.hgetall(metrics_key(ns, "worker", worker_id.decode()))
        rows = pipe.execute()
    found = []
    for raw in rows:
        if not raw:
            continue
        row = {key.decode(): value.decode() for key, value in raw.items()}
        heartbeat = float(row.get("heartbeat", 0))
        stopped = float(row["stopped"]) if row.get("stopped") else None
        alive = stopped is None and heartbeat >= now - WORKER_TTL
        if not alive and not include_dead:
            continue
        found.append(
            {
                "id": row.get("id"),
                "host": row.get("host"),
                "pid": int(row.get("pid", 0)),
                "queues": json.loads(row.get("queues") or "[]"),
                "started": float(row.get("started", 0)),
                "heartbeat": heartbeat,
                "done": int(row.get("done", 0)),
                "failed": int(row.get("failed", 0)),
                "alive": alive,
                "stopped": stopped,
            }
        )
    return found


def _quantile(histogram: list[int], q: float) -> float | None:
    """The ``q`` quantile of a ``RUNTIME_BUCKETS`` histogram, interpolated inside its bucket."""
    total = sum(histogram)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = RUNTIME_BUCKETS[index - 1] if index else 0.0
            high = RUNTIME_BUCKETS[index] if index < len(RUNTIME_BUCKETS) else RUNTIME_BUCKETS[-1]
            return low + (high - low) * (rank - seen) / count
        seen += count
    return RUNTIME_BUCKETS[-1]


def _parse_fields(raw: dict) -> Iterable[tuple[str, str, str, int]]:
    for field, value in raw.items():
        parts = field.decode().rsplit("|", 2)
        if len(parts) == 3:
            yield parts[0], parts[1], parts[2], int(value)


def _aggregate(hashes: Iterable[dict]) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = {}
    for raw in hashes:
        for task, kind, key, value in _parse_fields(raw or {}):
            entry = tasks.setdefault(
                task, {"states": Counter(), "histogram": [0] * (len(RUNTIME_BUCKETS) + 1), "runtime_ms": 0}
            )
            if kind == "n":
                entry["states"][key] += value
            elif kind == "h" and key.isdigit() and int(key) < len(entry["histogram"]):
                entry["histogram"][int(key)] += value
            elif kind == "s":
                entry["runtime_ms"] += value
    return tasks


def task_stats(app: Any, minutes: float = 15) -> list[dict[str, Any]]:
    """Per task over the last ``minutes``: counts by state, throughput per minute, mean, p50 and p95 (s)."""
    client, ns = _client_and_namespace(app)
    now = int(time.time() // BUCKET_SECONDS)
    span = max(1, int(minutes * 60 // BUCKET_SECONDS))
    with client.pipeline(transaction=False) as pipe:
        for bucket in range(now - span + 1, now + 1):
            pipe.hgetall(metrics_key(ns, "b", bucket))
        hashes = pipe.execute()
    stats = []
    for task, entry in sorted(_aggregate(hashes).items()):
        timed = sum(entry["histogram"])
        finished = sum(count for state, count in entry["states"].items() if state != "RETRY")
        stats.append(
            {
                "task": task,
                "states": dict(entry["states"]),
                "finished": finished,
                "per_minute": round(finished / minutes, 2),
                "mean": round(entry["runtime_ms"] / timed / 1000, 6) if timed else None,
                "p50": _round(_quantile(entry["histogram"], 0.50)),
                "p95": _round(_quantile(entry["histogram"], 0.95)),
            }
        )
    return stats


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def recent_tasks(
    app: Any, state: str | None = None, task: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest finished tasks (up to ``worker_metrics_recent`` are kept), optionally by state/task."""
    from .search import events

    found = []
    for event in events(app):  # a page at a time: stops once ``limit`` are found
        if state and event.get("state") != state.upper():
            continue
        if task and event.get("task") != task:
            continue
        found.append(event)
        if len(found) >= limit:
            break
    return found


def task_detail(app: Any, task_id: str) -> dict[str, Any] | None:
    """What is known of one task: its stored state (args, result or traceback), runs seen, dead letter."""
    from .deadletters import store_for

    client, ns = _client_and_namespace(app)
    runs = [
        event
        for event in map(json.loads, client.lrange(metrics_key(ns, "recent"), 0, -1))
        if event.get("id") == task_id
    ]
    meta = app.backend.get_meta(task_id) if app.backend.enabled else None
    store = store_for(app)
    dead = store.get(task_id) if store is not None else None
    if meta is None and not runs and dead is None:
        return None
    detail: dict[str, Any] = {"id": task_id, "runs": runs}
    if meta is not None:
        detail.update(
            state=meta.get("status"),
            result=meta.get("result"),
            traceback=meta.get("traceback"),
            date_done=meta.get("date_done"),
            task=meta.get("name"),
            args=meta.get("args"),
            kwargs=meta.get("kwargs"),
            retries=meta.get("retries"),
            queue=meta.get("queue"),
        )
    if dead is not None:
        detail["dead_letter"] = {key: value for key, value in dead.items() if key != "message"}
        for key in ("task", "args", "kwargs", "queue", "traceback", "retries"):
            if detail.get(key) is None:
                detail[key] = dead.get(key)
        detail.setdefault("state", "FAILURE")
    if runs:
        latest = runs[0]
        for key in ("task", "queue", "retries"):
            if detail.get(key) is None:
                detail[key] = latest.get(key)
        detail.setdefault("state", latest.get("state"))
    return detail


def task_totals(app: Any) -> dict[str, dict[str, Any]]:
    """Cumulative counts per task since the totals began: ``{task: {states, histogram, runtime_ms}}``.

    ``histogram`` counts runs per ``RUNTIME_BUCKETS`` bound (the last slot is above the largest bound).
    """
    client, ns = _client_and_namespace(app)
    return _aggregate([client.hgetall(metrics_key(ns, "totals"))])

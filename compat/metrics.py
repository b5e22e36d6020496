"""Task metrics in Redis: a cheap, bounded recorder in each worker process, and readers for dashboards.

Recording costs no Redis call per message. Each worker process buffers finished-task events in memory
(a bounded deque) and a background thread flushes them every ``worker_metrics_interval`` seconds in one
pipelined round trip. Every key lives under the broker namespace and is capped or expires:

* ``<ns>:metrics:b:<bucket>``: a hash per 10-second bucket, expiring after ``worker_metrics_window``;
  fields ``<task>|n|<STATE>`` (count), ``<task>|h|<i>`` (runtime histogram bucket ``i`` of
  ``RUNTIME_BUCKETS``) and ``<task>|s|ms`` (runtime sum in milliseconds).
* ``<ns>:metrics:totals``: the same fields, cumulative (Prometheus counters); refreshed 30-day TTL.
* ``<ns>:metrics:recent``: the latest ``worker_metrics_recent`` tasks as JSON (``LTRIM``), newest first.
* ``<ns>:metrics:worker:<id>``: one hash per worker process (host, pid, queues, started, heartbeat,
  done, failed) expiring ``WORKER_TTL`` seconds after its last flush; ``<ns>:metrics:workers`` indexes
  them by heartbeat and is pruned on every flush.

The readers below compute queue depths (ready / delayed / in progress / dead), live workers, per-task
throughput and p50/p95 over the last minutes, recent tasks and a task's details, and render all of it
as Prometheus text. They never import the scheduler: the Django layer adds what it reports.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from dramatiq.common import dq_name

from .broker import lane_queue

logger = logging.getLogger("compat.metrics")

BUCKET_SECONDS = 10
#: Upper bounds (seconds) of the runtime histogram; a last, open bucket catches everything slower.
RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TOTALS_TTL = 30 * 86400
RECENT_TTL = 7 * 86400
WORKER_TTL = 30
BUFFER_LIMIT = 50_000
FINAL_STATES = ("SUCCESS", "FAILURE")
DEAD_LETTER_SCAN_LIMIT = 5000


def metrics_key(namespace: str, *parts: Any) -> str:
    """The Redis key ``<namespace>:metrics:<part>:<part>...``."""
    return ":".join([namespace, "metrics", *map(str, parts)])


def runtime_bucket(seconds: float) -> int:
    """The index in ``RUNTIME_BUCKETS`` (or one past its end) that ``seconds`` falls in."""
    for index, bound in enumerate(RUNTIME_BUCKETS):
        if seconds <= bound:
            return index
    return len(RUNTIME_BUCKETS)


# -- recording ---------------------------------------------------------------------------------------
class MetricsRecorder:
    """Buffers task events of one worker process and flushes them to Redis in one pipeline.

    Parameters:
      client: the broker's redis-py client.
      namespace: the broker namespace.
      worker_id: this process's broker id (the one in ``__heartbeats__`` and ``__acks__`` keys).
      window: seconds the 10-second buckets are kept.
      recent: how many recent tasks are kept.
    """

    def __init__(
        self, client: Any, namespace: str, worker_id: str, *, window: float = 3600, recent: int = 1000
    ) -> None:
        self.client, self.namespace, self.worker_id = client, namespace, worker_id
        self.window, self.recent = int(window), int(recent)
        self.events: deque[dict[str, Any]] = deque(maxlen=BUFFER_LIMIT)
        self.info: dict[str, Any] = {
            "id": worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.time(),
        }
        self.done = 0
        self.failed = 0
        self.queues: Any = lambda: []
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.broken = False

    def record(self, event: dict[str, Any]) -> None:
        """Buffer one finished task (thread-safe; the oldest events go first if flushes stall)."""
        self.events.append(event)

    def start(self, interval: float) -> None:
        """Flush every ``interval`` seconds from a daemon thread until ``stop``."""
        self.stopping.clear()
        self.thread = threading.Thread(target=self._run, args=(interval,), name="compat-metrics", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread, flush what is left and drop this worker from the registry."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        try:
            self.flush()
            with self.client.pipeline(transaction=False) as pipe:
                pipe.delete(metrics_key(self.namespace, "worker", self.worker_id))
                pipe.zrem(metrics_key(self.namespace, "workers"), self.worker_id)
                pipe.execute()
        except Exception:
            logger.debug("could not flush metrics at shutdown", exc_info=True)

    def _run(self, interval: float) -> None:
        while not self.stopping.wait(interval):
            try:
                self.flush()
                if self.broken:
                    self.broken = False
                    logger.info("metrics flushing again")
            except Exception:
                if not self.broken:
                    logger.warning("could not flush task metrics; retrying quietly", exc_info=True)
                self.broken = True

    def drain(self) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                events.append(self.events.popleft())
            except IndexError:
                return events

    def flush(self) -> int:
        """Write buffered events and this worker's heartbeat in one round trip; returns how many events."""
        events = self.drain()
        ns, now = self.namespace, time.time()
        buckets: dict[int, Counter] = {}
        totals: Counter = Counter()
        for event in events:
            fields = buckets.setdefault(int(event["finished"] // BUCKET_SECONDS), Counter())
            task, state, runtime = event["task"], event["state"], event["runtime"]
            for counter in (fields, totals):
                counter[f"{task}|n|{state}"] += 1
                if runtime is not None:
                    counter[f"{task}|h|{runtime_bucket(runtime)}"] += 1
                    counter[f"{task}|s|ms"] += round(runtime * 1000)
            if state == "FAILURE":
                self.failed += 1
            elif state != "RETRY":
                self.done += 1
        with self.client.pipeline(transaction=False) as pipe:
            for bucket, fields in buckets.items():
                key = metrics_key(ns, "b", bucket)
                for field, value in fields.items():
                    pipe.hincrby(key, field, value)
                pipe.expire(key, self.window + BUCKET_SECONDS)
            if totals:
                key = metrics_key(ns, "totals")
                for field, value in totals.items():
                    pipe.hincrby(key, field, value)
                pipe.expire(key, TOTALS_TTL)
                recent = metrics_key(ns, "recent")
                pipe.lpush(recent, *(json.dumps(event, default=str) for event in events[-self.recent :]))
                pipe.ltrim(recent, 0, self.recent - 1)
                pipe.expire(recent, RECENT_TTL)
            worker_key = metrics_key(ns, "worker", self.worker_id)
            pipe.hset(
                worker_key,
                mapping={
                    **self.info,
                    "queues": json.dumps(sorted(self.queues())),
                    "heartbeat": now,
                    "done": self.done,
                    "failed": self.failed,
                },
            )
            pipe.expire(worker_key, WORKER_TTL)
            index = metrics_key(ns, "workers")
            pipe.zadd(index, {self.worker_id: now})
            pipe.zremrangebyscore(index, "-inf", now - WORKER_TTL)
            pipe.execute()
        return len(events)


# -- reading -----------------------------------------------------------------------------------------
def _client_and_namespace(app: Any) -> tuple[Any, str]:
    broker = app.broker
    client = getattr(broker, "client", None)
    if client is None:
        raise LookupError("the in-memory broker keeps no metrics")
    return client, broker.namespace


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
    """Every known queue with ``ready``, ``delayed``, ``in_progress`` and ``dead`` counts.

    ``ready`` counts the queue's lists and priority lanes; ``delayed`` the ``.DQ`` lists plus delayed
    messages workers hold in memory until due; ``in_progress`` what workers hold from the queue (running or
    prefetched), read from their ack sets.
    """
    client, ns = _client_and_namespace(app)
    dead, _ = dead_letters_by_queue(app)
    queues = known_queues(app, extra=[q for q in dead if q != "(unknown)"])
    with client.pipeline(transaction=False) as pipe:
        pipe.zrange(f"{ns}:__heartbeats__", 0, -1)
        for queue in queues:
            pipe.smembers(f"{ns}:{queue}.lanes")
        first = pipe.execute()
    holders = [item.decode() for item in first[0]]
    layout: list[tuple[str, list[str]]] = []
    for queue, lanes in zip(queues, first[1:], strict=True):
        layout.append((queue, ["", *sorted(lane.decode() for lane in lanes)]))
    with client.pipeline(transaction=False) as pipe:
        for queue, lanes in layout:
            for lane in lanes:
                name = lane_queue(queue, lane)
                pipe.llen(f"{ns}:{name}")
                pipe.llen(f"{ns}:{dq_name(name)}")
                for holder in holders:
                    pipe.scard(f"{ns}:__acks__.{holder}.{name}")
                    pipe.scard(f"{ns}:__acks__.{holder}.{dq_name(name)}")
        counts = iter(pipe.execute())
    stats = []
    for queue, lanes in layout:
        ready = delayed = held = 0
        for _ in lanes:
            ready += next(counts)
            delayed += next(counts)
            for _ in holders:
                held += next(counts)
                delayed += next(counts)
        stats.append(
            {
                "name": queue,
                "ready": ready,
                "delayed": delayed,
                "in_progress": held,
                "dead": dead.get(queue, 0),
                "lanes": [lane for lane in lanes if lane],
            }
        )
    return stats


def workers(app: Any) -> list[dict[str, Any]]:
    """Worker processes seen in the last ``WORKER_TTL`` seconds, newest heartbeat first."""
    client, ns = _client_and_namespace(app)
    ids = client.zrevrangebyscore(metrics_key(ns, "workers"), "+inf", time.time() - WORKER_TTL)
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
        found.append(
            {
                "id": row.get("id"),
                "host": row.get("host"),
                "pid": int(row.get("pid", 0)),
                "queues": json.loads(row.get("queues") or "[]"),
                "started": float(row.get("started", 0)),
                "heartbeat": float(row.get("heartbeat", 0)),
                "done": int(row.get("done", 0)),
                "failed": int(row.get("failed", 0)),
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
    client, ns = _client_and_namespace(app)
    found = []
    for raw in client.lrange(metrics_key(ns, "recent"), 0, -1):
        event = json.loads(raw)
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


# -- Prometheus --------------------------------------------------------------------------------------
def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prom_labels(**labels: Any) -> str:
    """Prometheus label text ``{a="1",b="x"}`` with values escaped."""
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def prometheus_lines(app: Any) -> list[str]:
    """Queue depths, task counts by state, runtime histogram, retries, dead letters and workers."""
    client, ns = _client_and_namespace(app)
    lines = [
        "# HELP compat_queue_messages Messages per queue and state (ready, delayed, in_progress, dead).",
        "# TYPE compat_queue_messages gauge",
    ]
    for queue in queue_stats(app):
        for state in ("ready", "delayed", "in_progress", "dead"):
            labels = prom_labels(queue=queue["name"], state=state)
            lines.append(f"compat_queue_messages{labels} {queue[state]}")
    totals = _aggregate([client.hgetall(metrics_key(ns, "totals"))])
    lines += [
        "# HELP compat_tasks_total Task executions finished, by task and state.",
        "# TYPE compat_tasks_total counter",
    ]
    for task, entry in sorted(totals.items()):
        for state, count in sorted(entry["states"].items()):
            lines.append(f"compat_tasks_total{prom_labels(task=task, state=state)} {count}")
    lines += [
        "# HELP compat_task_retries_total Task executions that ended in a retry.",
        "# TYPE compat_task_retries_total counter",
    ]
    for task, entry in sorted(totals.items()):
        lines.append(f"compat_task_retries_total{prom_labels(task=task)} {entry['states'].get('RETRY', 0)}")
    lines += [
        "# HELP compat_task_duration_seconds Task runtime in the worker.",
        "# TYPE compat_task_duration_seconds histogram",
    ]
    for task, entry in sorted(totals.items()):
        cumulative = 0
        for index, count in enumerate(entry["histogram"]):
            cumulative += count
            bound = RUNTIME_BUCKETS[index] if index < len(RUNTIME_BUCKETS) else "+Inf"
            labels = prom_labels(task=task, le=bound)
            lines.append(f"compat_task_duration_seconds_bucket{labels} {cumulative}")
        lines.append(f"compat_task_duration_seconds_sum{prom_labels(task=task)} {entry['runtime_ms'] / 1000}")
        lines.append(f"compat_task_duration_seconds_count{prom_labels(task=task)} {cumulative}")
    _, dead_total = dead_letters_by_queue(app)
    alive = workers(app)
    lines += [
        "# HELP compat_dead_letters Tasks in the dead-letter store.",
        "# TYPE compat_dead_letters gauge",
        f"compat_dead_letters {dead_total}",
        "# HELP compat_workers Worker processes alive (heartbeat within the last 30 s).",
        "# TYPE compat_workers gauge",
        f"compat_workers {len(alive)}",
        "# HELP compat_worker_tasks_done Tasks finished by each live worker process since it started.",
        "# TYPE compat_worker_tasks_done gauge",
    ]
    for worker in alive:
        labels = prom_labels(worker=worker["id"], host=worker["host"], pid=worker["pid"])
        lines.append(f"compat_worker_tasks_done{labels} {worker['done']}")
    return lines

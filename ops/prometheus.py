"""Prometheus text for ``/metrics``: queue depths, tasks by state, runtimes, retries, dead letters, workers,
and the scheduler's leader and run times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from compat import monitoring
from compat.metrics import RUNTIME_BUCKETS

from .schedule import scheduler_info


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prom_labels(**labels: Any) -> str:
    """Prometheus label text ``{a="1",b="x"}`` with values escaped."""
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def prometheus_lines(app: Any) -> list[str]:
    """Queue depths, task counts by state, runtime histogram, retries, dead letters and workers."""
    lines = [
        "# HELP compat_queue_messages Messages per queue and state (ready, delayed, in_progress, dead).",
        "# TYPE compat_queue_messages gauge",
    ]
    for queue in monitoring.queue_stats(app):
        for state in ("ready", "delayed", "in_progress", "dead"):
            labels = prom_labels(queue=queue["name"], state=state)
            lines.append(f"compat_queue_messages{labels} {queue[state]}")
    totals = monitoring.task_totals(app)
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
    _, dead_total = monitoring.dead_letters_by_queue(app)
    alive = monitoring.workers(app)
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


def scheduler_lines(app: Any) -> list[str]:
    """Scheduler gauges: leader present, last and next run per entry (epoch seconds)."""
    info = scheduler_info(app, runs=1)
    if not info["available"]:
        return []
    lines = [
        "# HELP compat_scheduler_leader 1 while a scheduler daemon holds the leader lease.",
        "# TYPE compat_scheduler_leader gauge",
        f"compat_scheduler_leader {1 if info['leader'] else 0}",
        "# HELP compat_scheduler_last_run_timestamp_seconds Latest scheduled run enqueued, per entry.",
        "# TYPE compat_scheduler_last_run_timestamp_seconds gauge",
    ]
    for entry in info["entries"]:
        if entry["last_run"]:
            stamp = datetime.fromisoformat(entry["last_run"]).timestamp()
            name = prom_labels(entry=entry["name"])
            lines.append(f"compat_scheduler_last_run_timestamp_seconds{name} {stamp}")
    lines += [
        "# HELP compat_scheduler_next_run_timestamp_seconds Next scheduled run, per entry.",
        "# TYPE compat_scheduler_next_run_timestamp_seconds gauge",
    ]
    for entry in info["entries"]:
        if entry["next_runs"]:
            stamp = datetime.fromisoformat(entry["next_runs"][0]).timestamp()
            name = prom_labels(entry=entry["name"])
            lines.append(f"compat_scheduler_next_run_timestamp_seconds{name} {stamp}")
    return lines

"""``/metrics`` through prometheus_client: a custom collector reads compat's records at scrape time.

Nothing is counted in this process: each scrape reads what workers recorded (``compat.monitoring``) and
what the scheduler daemon keeps, and turns it into metric families. The names and labels are the
dashboard's contract with Grafana (docs/ops-dashboard.md): queue depths, tasks by state, runtimes,
retries, dead letters, workers, and the scheduler's leader and run times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from compat import monitoring
from compat.metrics import RUNTIME_BUCKETS

from .schedule import scheduler_info

# The classic text format (what generate_latest writes for these names); every Prometheus reads it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUE_STATES = ("ready", "delayed", "in_progress", "dead")


class CompatCollector:
    """Metric families for one compat app, read fresh on every ``collect()``.

    Parameters:
      app: the compat app whose broker namespace and result store are read.
      scheduler: also report the scheduler daemon's leader and entries (needs the scheduler installed;
        without it those families are left out).
    """

    def __init__(self, app: Any, scheduler: bool = True) -> None:
        self.app = app
        self.scheduler = scheduler

    def describe(self) -> list[Metric]:
        return []  # nothing to register up front: every family is read at scrape time

    def collect(self) -> Iterator[Metric]:
        yield from self.queues()
        yield from self.tasks()
        yield from self.workers()
        if self.scheduler:
            yield from self.schedule()

    def queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "compat_queue_messages",
            "Messages per queue and state (ready, delayed, in_progress, dead).",
            labels=["queue", "state"],
        )
        for queue in monitoring.queue_stats(self.app):
            for state in QUEUE_STATES:
                depth.add_metric([queue["name"], state], queue[state])
        yield depth
        _, dead_total = monitoring.dead_letters_by_queue(self.app)
        yield GaugeMetricFamily("compat_dead_letters", "Tasks in the dead-letter store.", value=dead_total)

    def tasks(self) -> Iterator[Metric]:
        totals = sorted(monitoring.task_totals(self.app).items())
        finished = CounterMetricFamily(
            "compat_tasks", "Task executions finished, by task and state.", labels=["task", "state"]
        )
        retries = CounterMetricFamily(
            "compat_task_retries", "Task executions that ended in a retry.", labels=["task"]
        )
        runtime = HistogramMetricFamily(
            "compat_task_duration_seconds", "Task runtime in the worker.", labels=["task"]
        )
        for task, entry in totals:
            for state, count in sorted(entry["states"].items()):
                finished.add_metric([task, state], count)
            retries.add_metric([task], entry["states"].get("RETRY", 0))
            runtime.add_metric([task], _buckets(entry["histogram"]), sum_value=entry["runtime_ms"] / 1000)
        yield from (finished, retries, runtime)

    def workers(self) -> Iterator[Metric]:
        alive = monitoring.workers(self.app)
        yield GaugeMetricFamily(
            "compat_workers", "Worker processes alive (heartbeat within the last 30 s).", value=len(alive)
        )
        done = GaugeMetricFamily(
            "compat_worker_tasks_done",
            "Tasks finished by each live worker process since it started.",
            labels=["worker", "host", "pid"],
        )
        for worker in alive:
            done.add_metric([worker["id"], worker["host"], str(worker["pid"])], worker["done"])
        yield done

    def schedule(self) -> Iterator[Metric]:
        info = scheduler_info(self.app, runs=1)
        if not info["available"]:
            return
        yield GaugeMetricFamily(
            "compat_scheduler_leader",
            "1 while a scheduler daemon holds the leader lease.",
            value=1 if info["leader"] else 0,
        )
        last = GaugeMetricFamily(
            "compat_scheduler_last_run_timestamp_seconds",
            "Latest scheduled run enqueued, per entry.",
            labels=["entry"],
        )
        upcoming = GaugeMetricFamily(
            "compat_scheduler_next_run_timestamp_seconds", "Next scheduled run, per entry.", labels=["entry"]
        )
        lag = GaugeMetricFamily(
            "compat_scheduler_lag_seconds",
            "Seconds since an entry's next run fell due without being enqueued (0: none overdue).",
            labels=["entry"],
        )
        for entry in info["entries"]:
            lag.add_metric([entry["name"]], entry["lag"])
            if entry["last_run"]:
                last.add_metric([entry["name"]], datetime.fromisoformat(entry["last_run"]).timestamp())
            if entry["next_runs"]:
                moment = datetime.fromisoformat(entry["next_runs"][0])
                upcoming.add_metric([entry["name"]], moment.timestamp())
        yield from (last, upcoming, lag)


def _buckets(histogram: list[int]) -> list[tuple[str, int]]:
    """Cumulative ``(le, count)`` pairs from per-bucket counts (the last slot is ``+Inf``)."""
    bounds = [str(bound) for bound in RUNTIME_BUCKETS] + ["+Inf"]
    pairs, cumulative = [], 0
    for bound, count in zip(bounds, histogram, strict=True):
        cumulative += count
        pairs.append((bound, cumulative))
    return pairs


def exposition(app: Any) -> bytes:
    """The Prometheus text for ``app`` (raises ``LookupError`` for a broker that keeps no metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CompatCollector(app))
    return generate_latest(registry)

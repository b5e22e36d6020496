"""A kpi-style export that cleans up whichever time limit stops it, then fails."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

app = Celery(
    "kpi_like",
    broker=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
)
app.conf.update(
    task_default_queue="kpi",
    broker_namespace=os.environ.get("REAL_PROJECT_NS", "kpi"),
    result_namespace=os.environ.get("REAL_PROJECT_NS", "kpi") + "-res",
)


def mark(export_uid: str, status: str) -> None:
    client = redis.Redis.from_url(os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"))
    client.rpush(f"{os.environ.get('REAL_PROJECT_NS', 'kpi')}:export:{export_uid}", status)


def _work(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)


@app.task(soft_time_limit=0.3)
def export_soft(export_uid):
    try:
        _work(5)
    except (SoftTimeLimitExceeded, TimeLimitExceeded) as exc:
        mark(export_uid, f"cleaned up after {type(exc).__name__}")
        raise
    return "done"


@app.task(time_limit=1)
def export_hard(export_uid):
    try:
        _work(10)
    except (SoftTimeLimitExceeded, TimeLimitExceeded) as exc:
        mark(export_uid, f"cleaned up after {type(exc).__name__}")
        raise
    return "done"

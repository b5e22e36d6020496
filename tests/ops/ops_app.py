"""Tasks for the ops dashboard tests: imported by the test process and by a real worker.

Broker and namespace come from ``OPS_TEST_BROKER`` / ``OPS_TEST_NS`` so each session uses its own keys.
"""

from __future__ import annotations

import os
import time

from compat import Celery

BROKER = os.environ.get("OPS_TEST_BROKER", "redis://127.0.0.1:6379/0")
NS = os.environ.get("OPS_TEST_NS", "ops-test")

app = Celery("opsapp", broker=BROKER, backend=BROKER, set_as_current=False)
app.conf.update(
    broker_namespace=NS,
    result_namespace=NS + "-res",
    task_default_queue="default",
    task_routes={"tests.ops.ops_app.slow": {"queue": "slow"}},
    result_extended=True,
    worker_metrics_interval=0.2,
    ops_scheduler_prefix=NS + ":scheduler",
    beat_schedule={"nightly-add": {"task": "tests.ops.ops_app.add", "schedule": 3600.0, "args": (1, 2)}},
    alert_digest_seconds=3600,
    worker_metrics=os.environ.get("OPS_TEST_METRICS", "1") != "0",
)


@app.task
def add(x, y):
    return x + y


@app.task(ignore_result=True)
def noop(counter):
    """Counts its completion (the overhead benchmark waits for the count)."""
    app.backend.client.incr(counter)


@app.task
def boom(message="boom"):
    raise ValueError(message)


@app.task
def flaky(key):
    """Fails on its first run (marking ``key`` in Redis), succeeds when run again."""
    if app.backend.client.set(key, "1", nx=True, ex=600):
        raise RuntimeError("first run fails")
    return "second run"


@app.task
def slow(seconds):
    """Sleeps in short steps, so a terminate (delivered between Python bytecodes) stops it promptly."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return seconds


@app.task
def fail_step(value):
    """A pipeline step that fails (the canvas graph test's chain stops here)."""
    raise RuntimeError(f"step fails on {value}")


@app.task
def total(values):
    """A chord body: the sum of its header's results."""
    return sum(values)

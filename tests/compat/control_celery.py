"""The control app's tasks on real Celery 5.7, for the differential reply-shape checks (same task names)."""

from __future__ import annotations

import os
import time

from celery import Celery

app = Celery(
    "controlcelery",
    broker=os.environ.get("CONTROL_CELERY_BROKER", "redis://127.0.0.1:6379/1"),
    backend=os.environ.get("CONTROL_CELERY_BROKER", "redis://127.0.0.1:6379/1"),
    set_as_current=False,
)
app.conf.update(
    task_default_queue="control",
    task_routes={"tests.compat.control_app.parked": {"queue": "parked"}},
    broker_connection_retry_on_startup=True,
)


@app.task(name="tests.compat.control_app.add")
def add(x, y):
    return x + y


@app.task(name="tests.compat.control_app.spin")
def spin(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "finished"


@app.task(name="tests.compat.control_app.parked")
def parked(n):
    return n

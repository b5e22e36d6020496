"""The compat side of the import-celery test: the same task names, run by a real Dramatiq worker, each
recording how it ran (id, arguments, retries, priority, queue, time) in Redis."""

from __future__ import annotations

import json
import os
import time

from compat import Celery

NS = os.environ.get("COMPAT_TEST_NS", "cutover-test")
BROKER = os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/2")

app = Celery("cutover", broker=BROKER, backend=BROKER, set_as_current=False)
app.conf.update(
    broker_namespace=NS,
    result_namespace=NS + "-res",
    task_default_queue="celery",
    task_routes={"cut.other": {"queue": "other"}},
    broker_heartbeat_timeout=60,
    broker_maintenance_interval=10,
)


def record(task, args, kwargs) -> None:
    request = task.request
    app.backend.client.rpush(
        f"{NS}:ran",
        json.dumps(
            {
                "id": request.id,
                "task": task.name,
                "args": list(args),
                "kwargs": kwargs,
                "retries": request.retries,
                "priority": (request.delivery_info or {}).get("priority"),
                "queue": (request.delivery_info or {}).get("routing_key"),
                "at": time.time(),
            }
        ),
    )


@app.task(name="cut.add", bind=True)
def add(self, a, b):
    record(self, (a, b), {})
    return a + b


@app.task(name="cut.other", bind=True)
def other(self, *args, **kwargs):
    record(self, args, kwargs)
    return "other"

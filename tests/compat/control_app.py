"""Tasks for the app.control tests: a real worker group runs this module with its own namespaces."""

from __future__ import annotations

import json
import os
import time

from compat import Celery

#: Under the session's namespace (cleaned up with it), apart from the other worker apps' keys.
NS = os.environ.get("COMPAT_CONTROL_APP_NS") or os.environ.get("COMPAT_TEST_NS", "compat-test") + ":ctl"

app = Celery(
    "controlapp",
    broker=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    set_as_current=False,
)
app.conf.update(
    broker_namespace=NS,
    result_namespace=NS + ":res",
    task_default_queue="control",
    task_routes={"tests.compat.control_app.parked": {"queue": "parked"}, "extra.*": {"queue": "extra"}},
    worker_pool_restarts=True,
    broker_heartbeat_timeout=60,
    broker_maintenance_interval=10,
)
app.conf.update(json.loads(os.environ.get("COMPAT_CONTROL_APP_SETTINGS") or "{}"))  # worker settings tests


@app.task
def add(x, y):
    return x + y


@app.task
def spin(seconds):
    """Runs Python bytecode for ``seconds`` (short sleeps), so it can be terminated promptly."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "finished"


@app.task
def stubborn(seconds):
    """Swallows every Exception while it spins: termination must still stop it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.02)
        except Exception:
            pass
    return "finished"


@app.task
def parked(n):
    return n


@app.task
def limited(n):
    return n


@app.task
def pid_of(n):
    return os.getpid()


@app.task(name="extra.echo")
def extra_echo(value):
    return value

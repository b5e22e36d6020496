"""Alerts for tasks that fail for good: a log line always; a webhook, rate limited into digests."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from compat import Celery
from compat.alerts import alert_dead_letter, send_digest
from tests.compat.conftest import start_worker, stop_worker


class Hook:
    """A local HTTP endpoint that records the JSON bodies posted to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def alert_app(redis_url, hook, redis_client):
    namespace = f"alerts:{uuid.uuid4().hex[:8]}"
    app = Celery("alerts", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        broker_namespace=namespace,
        result_namespace=namespace + "-res",
        alert_webhook_url=hook.url,
        alert_digest_seconds=30,
    )
    yield app
    keys = list(redis_client.scan_iter(match=namespace + "*"))
    if keys:
        redis_client.delete(*keys)


def record(number: int) -> dict:
    return {
        "id": f"task-{number}",
        "task": "proj.tasks.fragile",
        "queue": "default",
        "reason": "failed",
        "exception_repr": f"ValueError('{number}')",
        "retries": 0,
        "failed_at": "2026-11-28T00:00:00+00:00",
    }


def test_a_thousand_failures_make_one_alert_and_one_digest(alert_app, hook, caplog):
    with caplog.at_level("ERROR", logger="compat.alerts"):
        for number in range(1000):
            alert_dead_letter(alert_app, record(number))
    assert len([r for r in caplog.records if "task failed for good" in r.getMessage()]) == 1000
    assert len(hook.bodies) == 1
    assert hook.bodies[0]["failures"][0]["id"] == "task-0"
    assert send_digest(alert_app) == 999
    assert len(hook.bodies) == 2
    assert hook.bodies[1]["subject"] == "999 more tasks failed for good"
    assert send_digest(alert_app) == 0 and len(hook.bodies) == 2


def test_failed_task_on_a_worker_posts_the_alert(worker_env, tasks, hook, tmp_path):
    env = {
        **worker_env,
        "COMPAT_TEST_ALERT_WEBHOOK": hook.url,
        "COMPAT_TEST_EXTRA_QUEUES": "alerting",
        "COMPAT_TEST_ALERT_WINDOW": "2",
    }
    tasks.app.broker.client.delete(f"{worker_env['COMPAT_TEST_NS']}:alerts:window")
    worker = start_worker(
        env, "tests.compat.worker_app", threads=2, queues=["alerting"], log=tmp_path / "w.log"
    )
    try:
        first = tasks.fail.apply_async(("first",), queue="alerting")
        second = tasks.fail.apply_async(("second",), queue="alerting")
        for result in (first, second):
            with pytest.raises(ValueError):
                result.get(timeout=10)
        deadline = time.monotonic() + 15
        while len(hook.bodies) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_worker(worker)
    failures = [failure["id"] for body in hook.bodies for failure in body["failures"]]
    assert sorted(failures) == sorted([first.id, second.id])
    assert len(hook.bodies) == 2  # one immediate alert, one digest when the 2-second window ended

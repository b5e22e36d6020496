"""Redis goes away under a running web process: health says so, writes still commit, plain sends fail
clearly at the call site, and everything recovers on its own (the writes' events: test_outbox_outage)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, make_stack, wait_until
from tests.e2e.test_flows import register
from threads.redis_server import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_stays_up_during_a_broker_outage_and_recovers(tmp_path):
    server = PrivateRedis(tmp_path / "redis", durable=True).start()
    stack = make_stack(server.url, tmp_path)
    try:
        stack.start(scheduler=False)
        token = register(stack, "outage")["token"]
        status, post = stack.call("POST", "/api/posts", {"content": "before the outage"}, token=token)
        assert status == 201
        server.stop()
        assert stack.call("GET", "/healthz")[0] == 503
        status, body = stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=token)
        assert status == 202 and body["task_id"]  # through the outbox: accepted, sent once Redis is back
        # the guide's plain .delay() sends at once, so it fails at the call site with a clear error
        code = "from threads.tasks import process_large_data\nprocess_large_data.delay([1])\n"
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
            cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode != 0 and "OperationalError: Cannot reach the broker" in done.stderr
        server.start()
        wait_until(lambda: stack.call("GET", "/healthz")[0] == 200, timeout=20, message="healthy again")
        status, task = wait_until(
            lambda: (lambda r: r if r[1]["status"] == "SUCCESS" else None)(
                stack.call("GET", f"/api/tasks/{body['task_id']}", token=token)
            ),
            timeout=30,
            message="the fact check accepted during the outage",
        )
        assert task["result"]["verdict"]
    finally:
        stack.stop()
        server.stop()

"""Redis goes away under a running web process: the API answers 503, then recovers on its own."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import make_stack, wait_until
from tests.e2e.test_flows import register
from threads.redis_server import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_answers_503_during_a_broker_outage_and_recovers(tmp_path):
    server = PrivateRedis(tmp_path / "redis", durable=True).start()
    stack = make_stack(server.url, tmp_path)
    try:
        stack.start(scheduler=False)
        token = register(stack, "outage")["token"]
        status, post = stack.call("POST", "/api/posts", {"content": "before the outage"}, token=token)
        assert status == 201
        server.stop()
        status, body = stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=token)
        assert status == 503 and "unavailable" in body["detail"]
        assert stack.call("GET", "/healthz")[0] == 503
        server.start()
        status, body = wait_until(
            lambda: (lambda r: r if r[0] == 202 else None)(
                stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=token)
            ),
            timeout=20,
            message="the API to accept work again",
        )
        assert body["task_id"]
    finally:
        stack.stop()
        server.stop()

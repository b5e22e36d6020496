"""Fact checks through the official openai SDK on a real worker, against a local chat-completions server:
a 429 and a 500 retried by the task, and a provider that keeps failing (FAILURE with its traceback)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import make_stack, wait_until
from tests.threads.support import ChatCompletionsServer
from threads.models import FactCheck, Notification

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def ai_server():
    with ChatCompletionsServer() as server:
        yield server


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, redis_url, tmp_path_factory, ai_server):
    stack = make_stack(
        redis_url,
        tmp_path_factory.mktemp("ai-stack"),
        OPENAI_API_KEY="sk-e2e",
        OPENAI_BASE_URL=ai_server.base_url,
        OPENAI_MODEL="e2e-model",
    )
    try:
        yield stack.start(scheduler=False)
    finally:
        stack.stop()


def setup_post(stack, name: str) -> tuple[dict, dict]:
    status, user = stack.call(
        "POST",
        "/api/auth/register",
        {"username": name, "email": f"{name}@example.com", "password": "e2e-Pass-word-9"},
    )
    assert status == 201, user
    status, post = stack.call("POST", "/api/posts", {"content": "The earth is flat"}, token=user["token"])
    assert status == 201
    return user, post


def task_status(stack, task_id: str, token: str, wanted: str) -> dict:
    def check():
        status, body = stack.call("GET", f"/api/tasks/{task_id}", token=token)
        assert status == 200
        return body if body["status"] == wanted else None

    return wait_until(check, timeout=30, message=f"task {task_id} {wanted}")


def test_429_then_500_are_retried_and_the_verdict_stored(stack, ai_server):
    user, post = setup_post(stack, "e2e_ai_user")
    ai_server.requests.clear()
    ai_server.script[:] = [429, 500]
    status, started = stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=user["token"])
    assert status == 202
    body = task_status(stack, started["task_id"], user["token"], "SUCCESS")
    assert body["result"]["provider"] == "openai" and body["result"]["model"] == "e2e-model"
    chat = [r for r in ai_server.requests if r["path"].endswith("/chat/completions")]
    assert len(chat) == 3 and all(r["auth"] == "Bearer sk-e2e" for r in chat)
    check = FactCheck.objects.get(content_id=post["id"])
    assert (check.verdict, check.provider, check.confidence) == ("false", "openai", 0.97)
    wait_until(
        lambda: Notification.objects.filter(recipient_id=user["id"], kind="fact_check").count() == 1,
        message="one notification",
    )


def test_a_failed_task_reports_failure_with_its_traceback(stack, ai_server):
    user, post = setup_post(stack, "e2e_ai_fail")
    ai_server.always = 500
    try:
        status, started = stack.call("POST", f"/api/posts/{post['id']}/fact-check", token=user["token"])
        assert status == 202
        body = task_status(stack, started["task_id"], user["token"], "FAILURE")
    finally:
        ai_server.always = None
    # openai's exception needs keyword arguments to be rebuilt, so the stored result comes back as a
    # generic Exception naming the class, exactly as Celery's result backend does
    assert "InternalServerError" in body["result"]["exc_type"] + body["result"]["exc_message"]
    assert "Traceback (most recent call last)" in body["traceback"]
    assert "InternalServerError" in body["traceback"]
    assert not FactCheck.objects.filter(content_id=post["id"]).exists()

"""fact_check_content: offline checker, the openai SDK against a local server, retries, rate limit."""

from __future__ import annotations

import openai
import pytest

from actors.fact_check import ai_rate_limiter, wait_for_ai_slot
from tests.threads.support import ChatCompletionsServer, make_user
from threads.models import FactCheck, Notification, Post
from threads.services.ai import FactChecker, FactCheckError, offline_fact_check, parse_verdict
from threads.tasks import fact_check_content

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(domain):
    return Post.objects.create(author=make_user(), content="The Earth is flat, trust me")


@pytest.fixture
def no_propagation(eager):
    """Eager without propagation: the task's own retries run inline (Celery's eager retry semantics)."""
    eager.CELERY_TASK_EAGER_PROPAGATES = False
    return eager


def test_offline_checker_is_deterministic_and_labelled():
    first, second = offline_fact_check("the earth is FLAT"), offline_fact_check("the earth is FLAT")
    assert first["verdict"] == second["verdict"] == "false"
    assert first["provider"] == "offline-checker" and first["explanation"].startswith("[offline checker")
    unknown = offline_fact_check("my cat likes tuna")
    assert unknown["verdict"] == "unverifiable" and unknown["confidence"] == 0.0


def test_fact_check_with_the_offline_checker_stores_and_notifies(eager, post):
    result = fact_check_content.delay(post.pk, "post", post.content)
    assert result.get()["verdict"] == "false"
    check = FactCheck.objects.get(content_type="post", content_id=post.pk)
    assert (check.verdict, check.provider, check.task_id) == ("false", "offline-checker", result.id)
    assert Notification.objects.filter(recipient=post.author, kind="fact_check").count() == 1


def test_fact_check_through_the_openai_sdk(eager, post):
    with ChatCompletionsServer() as server:
        eager.OPENAI_API_KEY, eager.OPENAI_BASE_URL, eager.OPENAI_MODEL = "sk-test", server.base_url, "m-test"
        assert FactChecker().provider == "openai"
        fact_check_content.delay(post.pk, "post", post.content)
    check = FactCheck.objects.get(content_id=post.pk)
    assert (check.verdict, check.provider, check.confidence) == ("false", "openai", 0.97)
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "m-test" and request["body"]["messages"][1]["content"] == post.content


def test_429_and_500_are_retried_by_the_task(no_propagation, post):
    with ChatCompletionsServer(script=[429, 500]) as server:
        no_propagation.OPENAI_API_KEY, no_propagation.OPENAI_BASE_URL = "sk-test", server.base_url
        result = fact_check_content.delay(post.pk, "post", post.content)
    assert result.status == "SUCCESS" and len(server.requests) == 3  # 429, 500, then the answer
    assert FactCheck.objects.get(content_id=post.pk).provider == "openai"
    assert Notification.objects.filter(kind="fact_check").count() == 1


def test_a_provider_that_keeps_failing_fails_after_max_retries(no_propagation, post):
    with ChatCompletionsServer(always=500) as server:
        no_propagation.OPENAI_API_KEY, no_propagation.OPENAI_BASE_URL = "sk-test", server.base_url
        result = fact_check_content.delay(post.pk, "post", post.content)
    assert result.status == "FAILURE" and isinstance(result.result, openai.InternalServerError)
    assert "InternalServerError" in result.traceback
    assert len(server.requests) == 1 + 3  # max_retries=3
    assert not FactCheck.objects.exists()


def test_a_bad_model_answer_is_an_error():
    with pytest.raises(FactCheckError):
        parse_verdict("I think it is fine")
    with pytest.raises(FactCheckError):
        parse_verdict('{"verdict": "maybe"}')
    assert parse_verdict('```json\n{"verdict": "TRUE", "confidence": 7}\n```')["confidence"] == 1.0


def test_rate_limit_caps_provider_calls_per_window(no_propagation, post):
    no_propagation.THREADS_AI_CALLS_PER_MINUTE = 2
    with ChatCompletionsServer() as server:
        no_propagation.OPENAI_API_KEY, no_propagation.OPENAI_BASE_URL = "sk-test", server.base_url
        results = [fact_check_content.delay(post.pk, "post", post.content) for _ in range(3)]
    assert [r.status for r in results] == ["SUCCESS", "SUCCESS", "FAILURE"]
    assert type(results[2].result).__name__ == "RateLimited"
    assert len(server.requests) == 2  # the third check never reached the provider


def test_the_limiter_is_shared_through_redis(domain):
    domain.THREADS_AI_CALLS_PER_MINUTE = 1
    assert wait_for_ai_slot(ai_rate_limiter()) is True
    assert wait_for_ai_slot(ai_rate_limiter()) is False  # a fresh limiter object sees the same window

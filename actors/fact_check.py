"""AI fact checks on ``ai_queue``, rate-limited across all workers by a Redis window limiter."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from actors.notifications import notify_fact_check_complete
from compat import shared_task
from threads.models import FactCheck
from threads.services import redis_client
from threads.services.ai import FactChecker

openai_client = FactChecker()  # the official openai SDK when OPENAI_API_KEY is set, else the offline checker


def update_fact_check_result(content_id: int, result: dict[str, Any]) -> FactCheck:
    """Store (or replace) the content's fact check."""
    check, _ = FactCheck.objects.update_or_create(
        content_type=result.get("content_type", "post"),
        content_id=content_id,
        defaults={
            "verdict": result["verdict"],
            "confidence": result["confidence"],
            "explanation": result["explanation"],
            "provider": result["provider"],
            "checked_at": parse_datetime(result["checked_at"]),
            "task_id": result.get("task_id") or "",
        },
    )
    return check


def ai_rate_limiter() -> WindowRateLimiter:
    """At most ``THREADS_AI_CALLS_PER_MINUTE`` provider calls per 60 s window, shared through Redis."""
    backend = RedisBackend(client=redis_client.client())
    return WindowRateLimiter(backend, redis_client.key("ratelimit", "ai"),
                             limit=settings.THREADS_AI_CALLS_PER_MINUTE, window=60)


def wait_for_ai_slot(limiter: WindowRateLimiter | None = None) -> bool:
    """Take a slot in the AI window, waiting up to ``THREADS_AI_RATE_LIMIT_WAIT`` s; False if none came."""
    limiter = limiter or ai_rate_limiter()
    deadline = time.monotonic() + settings.THREADS_AI_RATE_LIMIT_WAIT
    while True:
        with limiter.acquire(raise_on_failure=False) as acquired:
            if acquired:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


class RateLimited(Exception):
    """No AI slot was free within ``THREADS_AI_RATE_LIMIT_WAIT`` seconds."""


@shared_task(name="threads.tasks.fact_check_content", bind=True, max_retries=3)
def fact_check_content(self, content_id, content_type, content_text):
    """Fact-check content with the AI provider, store the verdict and notify the author.

    The guide's 3.1 body; two additions: the rate-limit slot is taken before the call, and the result
    carries its content type and task id (the notification's once-only key). Any error is retried
    ``max_retries`` times, ``THREADS_AI_RETRY_COUNTDOWN`` seconds apart (the guide's 60 by default).
    """
    countdown = settings.THREADS_AI_RETRY_COUNTDOWN
    try:
        if not wait_for_ai_slot():
            raise RateLimited(f"no AI call slot free within {settings.THREADS_AI_RATE_LIMIT_WAIT} s")
        # call the OpenAI API
        result = openai_client.fact_check(content_text)
        result.update(content_type=content_type, task_id=self.request.id)

        # update the database
        update_fact_check_result(content_id, result)

        # send a notification
        notify_fact_check_complete.delay(content_id, result)

    except Exception as exc:
        # retry mechanism
        raise self.retry(exc=exc, countdown=countdown)
    return result

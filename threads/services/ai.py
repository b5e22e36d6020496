"""Fact checking: the official ``openai`` SDK when ``OPENAI_API_KEY`` is set, else an offline checker.

Both return the same JSON-able dict: ``verdict`` (``true`` / ``false`` / ``misleading`` /
``unverifiable``), ``confidence`` (0..1), ``explanation``, ``provider``, ``model``, ``checked_at``.
The offline checker is deterministic and says in its provider and explanation that it is not a real
fact check. The SDK's own retries are off (``max_retries=0``): the task retries, so one policy (the
guide's ``self.retry(exc=exc, countdown=...)``) decides, and each attempt counts against the rate limit.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

VERDICTS = ("true", "false", "misleading", "unverifiable")
OFFLINE_PROVIDER = "offline-checker"
SYSTEM_PROMPT = (
    "You are a careful fact checker for a social network. Judge the factual claims in the user's post. "
    'Answer with one JSON object: {"verdict": "true" | "false" | "misleading" | "unverifiable", '
    '"confidence": a number from 0 to 1, "explanation": one or two sentences}.'
)

# The offline checker's whole knowledge: a few well-known claims. Everything else is unverifiable.
KNOWN_CLAIMS: list[tuple[str, str, str]] = [
    (r"\bearth\b.*\bflat\b", "false", "The Earth is an oblate spheroid, not flat."),
    (r"\bwater\b.*\bboils?\b.*\b100\b", "true", "At sea level water boils at 100 degrees Celsius."),
    (r"\bvaccines?\b.*\bautism\b", "false", "Large studies find no link between vaccines and autism."),
    (
        r"\bgreat wall\b.*\bvisible\b.*\bspace\b",
        "misleading",
        "The Great Wall is hard to see from orbit with the naked eye.",
    ),
    (r"\bsun\b.*\b(star)\b", "true", "The Sun is a G-type main-sequence star."),
]


class FactCheckError(Exception):
    """The provider answered, but not with a usable verdict."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def offline_fact_check(text: str) -> dict[str, Any]:
    """A deterministic, labelled stand-in for a real checker (no network, no model)."""
    lowered = text.lower()
    for pattern, verdict, why in KNOWN_CLAIMS:
        if re.search(pattern, lowered):
            return {
                "verdict": verdict,
                "confidence": 0.9,
                "provider": OFFLINE_PROVIDER,
                "model": "rules-v1",
                "explanation": f"[offline checker, not a real fact check] {why}",
                "checked_at": _now(),
            }
    return {
        "verdict": "unverifiable",
        "confidence": 0.0,
        "explanation": "[offline checker, not a real fact check] No known claim recognised; "
        "set OPENAI_API_KEY for a real check.",
        "provider": OFFLINE_PROVIDER,
        "model": "rules-v1",
        "checked_at": _now(),
    }


def parse_verdict(text: str) -> dict[str, Any]:
    """The verdict dict from a model's JSON answer; ``FactCheckError`` when it is not one."""
    match = re.search(r"\{.*\}", text or "", re.S)
    try:
        data = json.loads(match.group(0) if match else text)
    except (TypeError, ValueError) as exc:
        raise FactCheckError(f"model answer is not JSON: {text[:200]!r}") from exc
    verdict = str(data.get("verdict", "")).strip().lower()
    if verdict not in VERDICTS:
        raise FactCheckError(f"model answer has no valid verdict: {text[:200]!r}")
    try:
        confidence = min(1.0, max(0.0, float(data.get("confidence", 0.0))))
    except (TypeError, ValueError):
        confidence = 0.0
    return {
        "verdict": verdict,
        "confidence": confidence,
        "explanation": str(data.get("explanation", ""))[:2000],
    }


def openai_fact_check(text: str) -> dict[str, Any]:
    """Ask the chat-completions endpoint (``OPENAI_BASE_URL``, ``OPENAI_MODEL``) through the official SDK."""
    from openai import OpenAI

    client = OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=0,
    )
    try:
        response = client.chat.completions.create(
            model=settings.OPENAI_MODEL,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}],
            response_format={"type": "json_object"},
            temperature=0,
        )
    finally:
        client.close()
    answer = response.choices[0].message.content if response.choices else ""
    result = parse_verdict(answer or "")
    result.update(provider="openai", model=response.model or settings.OPENAI_MODEL, checked_at=_now())
    return result


class FactChecker:
    """The guide's ``openai_client``: ``fact_check(text)`` with the provider chosen from live settings."""

    @property
    def provider(self) -> str:
        return "openai" if settings.OPENAI_API_KEY else OFFLINE_PROVIDER

    def fact_check(self, text: str) -> dict[str, Any]:
        """Fact-check ``text``; provider errors (HTTP 429/5xx, timeouts, bad answers) propagate."""
        if settings.OPENAI_API_KEY:
            return openai_fact_check(text)
        return offline_fact_check(text)

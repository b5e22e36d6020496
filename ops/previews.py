"""Big payloads are cut for the dashboard and its JSON API: one 20 MB argument must not make every poll 20 MB.

``args``, ``kwargs``, ``result``, ``traceback``, ``exception`` and ``exception_repr`` longer than the
``OPS_PREVIEW_CHARS`` Django setting (default 4,096 characters, counted on their JSON text) are
replaced by a preview that says it was cut:

- a string keeps its first characters, followed by ``… [cut: N characters in all]``;
- any other value becomes ``{"truncated": true, "chars": N, "preview": "<the start of its JSON>"}``.

The detail endpoints return everything with ``?full=1``; ``manage.py deadletters show`` always does.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest

DEFAULT_PREVIEW_CHARS = 4096
FIELDS = ("args", "kwargs", "result", "traceback", "exception", "exception_repr")


def preview_limit() -> int:
    """The ``OPS_PREVIEW_CHARS`` setting (at least 64)."""
    return max(64, int(getattr(settings, "OPS_PREVIEW_CHARS", DEFAULT_PREVIEW_CHARS)))


def preview(value: Any, limit: int) -> Any:
    """``value`` itself when its text fits in ``limit`` characters, else a marked preview of it."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}… [cut: {len(value)} characters in all]"
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= limit:
        return value
    return {"truncated": True, "chars": len(text), "preview": text[:limit]}


def trimmed(record: dict[str, Any], limit: int | None = None) -> dict[str, Any]:
    """A copy of ``record`` with its payload fields (``FIELDS``) cut to ``limit`` (``preview_limit()``)."""
    limit = preview_limit() if limit is None else limit
    return {key: preview(value, limit) if key in FIELDS else value for key, value in record.items()}


def wants_full(request: HttpRequest) -> bool:
    """``?full=1`` (or ``true``/``yes``) asks a detail endpoint for the payload uncut."""
    return request.GET.get("full", "").lower() in ("1", "true", "yes")

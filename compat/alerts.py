"""Alerts for tasks that failed for good: always a structured log line; mail and/or webhook when set up.

Delivery is rate limited per ``broker_namespace``: the first dead letter in a window of
``alert_digest_seconds`` is delivered at once, later ones in the same window are collected and delivered
as one digest when the window ends (a delayed ``compat.alert_digest`` task), so a thousand failures in a
minute make two messages, not a thousand. The window and the pending list live in the stores' Redis
(``compat.stores``); an app with no Redis at all delivers each alert at once.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from . import serialization
from .config import load_object
from .stores import redis_for

logger = logging.getLogger("compat.alerts")

PENDING_KEPT = 1000


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a dead-letter record an alert carries."""
    return {
        key: record.get(key)
        for key in ("id", "task", "queue", "reason", "exception_repr", "retries", "failed_at")
    }


def alert_dead_letter(app: Any, record: dict[str, Any]) -> None:
    """Log the failure, then deliver it now or add it to the current window's digest."""
    logger.error("task failed for good %s", json.dumps(summary(record), default=str, sort_keys=True))
    if not (app.conf.alert_webhook_url or app.conf.alert_mailer):
        return
    client = redis_for(app)
    if client is None:
        deliver(app, f"Task {record.get('task')}[{record.get('id')}] failed for good", [summary(record)])
        return
    window_key = f"{app.conf.broker_namespace}:alerts:window"
    pending_key = f"{app.conf.broker_namespace}:alerts:pending"
    window = int(app.conf.alert_digest_seconds or 60)
    if client.set(window_key, "1", nx=True, ex=window):
        deliver(app, f"Task {record.get('task')}[{record.get('id')}] failed for good", [summary(record)])
        # On the failed task's queue: a worker that consumes it is certainly running. The built-in
        # tasks, the digest among them, are registered when the app's broker is created.
        app.broker  # noqa: B018
        app.tasks["compat.alert_digest"].apply_async(countdown=window, queue=record.get("queue") or None)
        return
    with client.pipeline(transaction=False) as pipe:
        pipe.rpush(pending_key, serialization.dumps(summary(record)))
        pipe.ltrim(pending_key, -PENDING_KEPT, -1)
        pipe.expire(pending_key, window * 10)
        pipe.execute()


def send_digest(app: Any) -> int:
    """Deliver what collected during the window, as one message; returns how many failures it lists."""
    pending_key = f"{app.conf.broker_namespace}:alerts:pending"
    client = redis_for(app)
    if client is None:
        return 0
    with client.pipeline(transaction=True) as pipe:
        pipe.lrange(pending_key, 0, -1)
        pipe.delete(pending_key)
        raw, _ = pipe.execute()
    items = [serialization.loads(item) for item in raw]
    if items:
        deliver(app, f"{len(items)} more tasks failed for good", items)
    return len(items)


def deliver(app: Any, subject: str, items: list[dict[str, Any]]) -> None:
    """Send one alert by webhook and/or mail; a delivery failure is logged, never raised."""
    url = app.conf.alert_webhook_url
    if url:
        body = json.dumps({"subject": subject, "failures": items}, default=str).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except Exception as exc:  # an alert channel being down must not break the worker
            logger.warning("alert webhook %s failed: %s", url, exc)
    mailer = app.conf.alert_mailer
    if mailer:
        text = "\n".join(json.dumps(item, default=str, sort_keys=True) for item in items)
        try:
            (load_object(mailer) if isinstance(mailer, str) else mailer)(subject, text)
        except Exception as exc:
            logger.warning("alert mail failed: %s", exc)

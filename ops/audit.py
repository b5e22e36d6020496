"""Who did what from the dashboard: every action is logged (logger ``ops.audit``) and kept for the page.

The log line is the record of authority (ship it with the rest of your logs); the newest
``AUDIT_KEEP`` actions are also kept in the stores' Redis (``<ns>:ops:audit``, a capped list, 30-day
TTL) so the page can show them.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.http import HttpRequest

from compat.stores import redis_for

log = logging.getLogger("ops.audit")
AUDIT_KEEP = 200
AUDIT_TTL = 30 * 86400


def _key(app: Any) -> str:
    return f"{app.conf.broker_namespace}:ops:audit"


def record(request: HttpRequest, app: Any, action: str, target: str, outcome: Any = None) -> None:
    """Log ``action`` on ``target`` by the request's user and keep it for the page."""
    user = request.user.get_username()
    entry = {"at": time.time(), "user": user, "action": action, "target": target, "outcome": outcome}
    log.info("ops action by %s: %s %s -> %s", user, action, target, json.dumps(outcome, default=str))
    client = redis_for(app)
    if client is None:
        return
    with client.pipeline(transaction=False) as pipe:
        pipe.lpush(_key(app), json.dumps(entry, default=str))
        pipe.ltrim(_key(app), 0, AUDIT_KEEP - 1)
        pipe.expire(_key(app), AUDIT_TTL)
        pipe.execute()


def recent(app: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The newest actions, newest first."""
    client = redis_for(app)
    if client is None:
        return []
    return [json.loads(raw) for raw in client.lrange(_key(app), 0, limit - 1)]

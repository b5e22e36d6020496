"""What the scheduler daemon keeps in Redis, read for the dashboard: entries, leader, last and next runs.

The scheduler is imported here, in the dashboard, never by compat; where it is not installed the panel
says so. Entries come from the app (``beat_schedule`` and periodiq actors) plus ``ops_scheduler_entries``
(a dotted path to a callable ``(app) -> list[Entry]`` for entries a project adds in its own ``scheduler``
command); Redis keys use the daemon's prefix, ``ops_scheduler_prefix`` or its default
``scheduler:<app main name>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compat.config import load_object


def key_prefix(app: Any) -> str:
    """The scheduler daemon's Redis key prefix for ``app``."""
    return app.conf.ops_scheduler_prefix or f"scheduler:{getattr(app, 'main', None) or 'default'}"


def scheduler_info(app: Any, runs: int = 3) -> dict[str, Any]:
    """Entries with trigger, last run and next ``runs`` run times; the current leader and its lease TTL."""
    try:
        from scheduler.cli import app_timezone
        from scheduler.runs import RunLedger
        from scheduler.sources import app_entries, merge
        from scheduler.triggers import build_trigger, describe, next_fire_times
    except ImportError as exc:  # the scheduler (APScheduler) is not installed here
        return {"available": False, "error": str(exc), "entries": [], "leader": None}
    client = app.broker.client
    prefix = key_prefix(app)
    info: dict[str, Any] = {"available": True, "prefix": prefix, "entries": [], "error": None}
    token, ttl = client.get(f"{prefix}:leader"), client.pttl(f"{prefix}:leader")
    info["leader"] = None if token is None else {"token": token.decode(), "ttl": max(0, ttl) / 1000}
    try:
        extra = app.conf.ops_scheduler_entries
        extra_entries = load_object(extra)(app) if isinstance(extra, str) else list(extra or ())
        entries = merge(app_entries(app), extra_entries)
        tz = app_timezone(app)
    except Exception as exc:  # a broken schedule is shown, not a 500
        info["error"] = f"{type(exc).__name__}: {exc}"
        return info
    ledger = RunLedger(client, prefix)
    now = datetime.now(UTC)
    for entry in entries:
        trigger = build_trigger(entry.schedule, tz)
        last = ledger.last(entry.name)
        info["entries"].append(
            {
                "name": entry.name,
                "task": entry.task,
                "trigger": describe(trigger),
                "source": entry.source,
                "last_run": last.isoformat() if last else None,
                "next_runs": [moment.isoformat() for moment in next_fire_times(trigger, now, runs)],
            }
        )
    return info

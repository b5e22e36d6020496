"""What the scheduler daemon keeps in Redis, read for the dashboard: entries, leader, last and next runs.

The scheduler is imported here, in the dashboard, never by compat; where it is not installed the panel
says so. Entries come from the app (``beat_schedule`` and periodiq actors) plus ``ops_scheduler_entries``
(a dotted path to a callable ``(app) -> list[Entry]`` for entries a project adds in its own ``scheduler``
command); Redis keys use the daemon's prefix, ``ops_scheduler_prefix`` or its default
``scheduler:<app main name>``. Database schedules (``compat.contrib.django.beat``'s rows) are listed
too, when that app is installed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compat.config import load_object


def key_prefix(app: Any) -> str:
    """The scheduler daemon's Redis key prefix for ``app``."""
    return app.conf.ops_scheduler_prefix or f"scheduler:{getattr(app, 'main', None) or 'default'}"


def app_schedule(app: Any) -> list[Any]:
    """The scheduler's entries for ``app``: ``beat_schedule``, periodiq actors, ``ops_scheduler_entries``."""
    from scheduler.sources import app_entries, merge

    extra = app.conf.ops_scheduler_entries
    extra_entries = load_object(extra)(app) if isinstance(extra, str) else list(extra or ())
    return merge(app_entries(app), extra_entries)


def database_rows(limit: int = 200) -> list[Any]:
    """django-celery-beat rows (``compat.contrib.django.beat``), when that app is installed; else none."""
    from django.apps import apps

    if not apps.is_installed("compat.contrib.django.beat"):
        return []
    from compat.contrib.django.beat.models import PeriodicTask

    return list(
        PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked").order_by("name")[
            :limit
        ]
    )


def database_row(name: str) -> Any:
    """The database schedule named ``name``, or None (also when that app is not installed)."""
    from django.apps import apps

    if not apps.is_installed("compat.contrib.django.beat"):
        return None
    from compat.contrib.django.beat.models import PeriodicTask

    return PeriodicTask.objects.filter(name=name).first()


def _rows_or_none() -> list[Any]:
    try:
        return database_rows()
    except Exception:  # tables not migrated yet: the panel lists the rest
        return []


def periodic_tasks(app: Any) -> set[str]:
    """Task names the scheduler runs (the housekeeping the recent-tasks list can hide)."""
    names: set[str] = {row.task for row in _rows_or_none()}
    try:
        names.update(entry.task for entry in app_schedule(app))
    except Exception:  # no scheduler installed, or a broken schedule (the panel shows why)
        pass
    return names


def _row(row: Any) -> dict[str, Any]:
    schedule = row.interval or row.crontab or row.solar or row.clocked
    return {
        "name": row.name,
        "task": row.task,
        "enabled": row.enabled,
        "schedule": str(schedule) if schedule is not None else "",
        "last_run": row.last_run_at.isoformat() if row.last_run_at else None,
        "total_run_count": row.total_run_count,
    }


def scheduler_info(app: Any, runs: int = 3) -> dict[str, Any]:
    """Entries with trigger, last run, lag and next ``runs`` run times; the current leader and its lease TTL.

    An entry's ``lag`` is how many seconds ago its next run after the last one enqueued fell due
    (0 while none is overdue): a daemon that is down or stuck shows as a growing lag.
    """
    try:
        from scheduler.cli import app_timezone
        from scheduler.runs import RunLedger
        from scheduler.triggers import build_trigger, describe, fire_times_between, next_fire_times
    except ImportError as exc:  # the scheduler (APScheduler) is not installed here
        return {"available": False, "error": str(exc), "entries": [], "leader": None, "rows": []}
    client = app.broker.client
    prefix = key_prefix(app)
    info: dict[str, Any] = {"available": True, "prefix": prefix, "entries": [], "error": None}
    token, ttl = client.get(f"{prefix}:leader"), client.pttl(f"{prefix}:leader")
    info["leader"] = None if token is None else {"token": token.decode(), "ttl": max(0, ttl) / 1000}
    info["rows"] = [_row(row) for row in _rows_or_none()]
    try:
        entries = app_schedule(app)
        tz = app_timezone(app)
    except Exception as exc:  # a broken schedule is shown, not a 500
        info["error"] = f"{type(exc).__name__}: {exc}"
        return info
    ledger = RunLedger(client, prefix)
    now = datetime.now(UTC)
    for entry in entries:
        trigger = build_trigger(entry.schedule, tz)
        last = ledger.last(entry.name)
        # Lag: how long ago the run after the last one enqueued fell due, while still not enqueued.
        due = fire_times_between(trigger, last, now, limit=1)[0] if last else []
        info["entries"].append(
            {
                "name": entry.name,
                "task": entry.task,
                "trigger": describe(trigger),
                "source": entry.source,
                "last_run": last.isoformat() if last else None,
                "lag": (now - due[0]).total_seconds() if due else 0.0,
                "next_runs": [moment.isoformat() for moment in next_fire_times(trigger, now, runs)],
            }
        )
    return info

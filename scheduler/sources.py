"""Where schedule entries come from: Celery's beat schedule and periodiq-style actors (the database
rows of django-celery-beat's tables come from ``scheduler.database``).

Everything is normalised into ``Entry`` objects and validated once, at start, so a typo in a
settings file stops the daemon with a message naming the entry instead of surfacing at 3 a.m.

Beat entries use Celery's format (``task``, ``schedule``, ``args``, ``kwargs``, ``options``,
``relative``) plus two keys of ours for the misfire policy: ``misfire_grace_time`` (seconds or
``None``) and ``coalesce``.  A schedule may be seconds, a ``timedelta`` or any
``compat.schedules`` object, including your own ``BaseSchedule`` subclass (asked ``is_due``).
Periodiq actors (``@dramatiq.actor(periodic=cron("..."))``) become
entries named after the actor; cron's rule that a restricted day-of-month *or* day-of-week
matches is kept for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from compat.exceptions import ImproperlyConfigured
from compat.schedules import BaseSchedule, crontab, schedule, solar

from .misfire import MisfirePolicy

BEAT_KEYS = {"task", "schedule", "args", "kwargs", "options", "relative", "misfire_grace_time", "coalesce"}
DEFAULT_GRACE = 60.0


class ScheduleError(ValueError):
    """A schedule entry is invalid; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    """One thing to enqueue periodically."""

    name: str
    task: str
    schedule: BaseSchedule | tuple[crontab, ...]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    policy: MisfirePolicy = MisfirePolicy()
    source: str = "beat_schedule"
    #: where the entry's last run is kept (``None``: the daemon's Redis ledger); see ``runs.LedgerStore``
    store: Any = None


def _schedule_of(name: str, value: Any, relative: bool = False) -> BaseSchedule:
    if isinstance(value, BaseSchedule):
        if isinstance(value, solar):
            try:
                value.check()
            except ImproperlyConfigured as exc:
                raise ScheduleError(f"beat entry {name!r}: {exc}") from None
        return value
    if isinstance(value, bool):
        raise ScheduleError(
            f"beat entry {name!r}: schedule must be seconds, a timedelta or a compat.schedules "
            f"schedule, not {value!r}"
        )
    if isinstance(value, (int, float, timedelta)):
        try:
            return schedule(value, relative=relative)
        except ValueError as exc:
            raise ScheduleError(f"beat entry {name!r}: {exc}") from None
    kind = type(value).__name__
    raise ScheduleError(
        f"beat entry {name!r}: unsupported schedule {value!r} of type {kind}; use seconds, a timedelta, "
        "or a compat.schedules object (crontab, schedule, solar, clocked, a BaseSchedule subclass)"
    )


def _policy_of(name: str, spec: Mapping, default_grace: float | None) -> MisfirePolicy:
    grace = spec.get("misfire_grace_time", default_grace)
    coalesce = spec.get("coalesce", True)
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0):
        raise ScheduleError(
            f"beat entry {name!r}: misfire_grace_time must be seconds >= 0 or None, not {grace!r}"
        )
    if not isinstance(coalesce, bool):
        raise ScheduleError(f"beat entry {name!r}: coalesce must be True or False, not {coalesce!r}")
    return MisfirePolicy(grace=grace, coalesce=coalesce)


def beat_entry(name: str, spec: Any, default_grace: float | None = DEFAULT_GRACE) -> Entry:
    """Validate one ``beat_schedule`` item and return it as an ``Entry``."""
    if not isinstance(spec, Mapping):
        raise ScheduleError(f"beat entry {name!r}: expected a dict, got {type(spec).__name__}")
    unknown = set(spec) - BEAT_KEYS
    if unknown:
        raise ScheduleError(
            f"beat entry {name!r}: unknown keys {sorted(unknown)}; allowed: {sorted(BEAT_KEYS)}"
        )
    task = spec.get("task")
    if not isinstance(task, str) or not task:
        raise ScheduleError(f"beat entry {name!r}: 'task' must be a task name (str), got {task!r}")
    if "schedule" not in spec:
        raise ScheduleError(f"beat entry {name!r}: missing 'schedule'")
    args, kwargs, options = spec.get("args", ()), spec.get("kwargs", {}), spec.get("options", {})
    if args is None:
        args = ()
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        raise ScheduleError(f"beat entry {name!r}: 'args' must be a list or tuple, got {args!r}")
    for key, value in (("kwargs", kwargs), ("options", options)):
        if value is not None and not isinstance(value, Mapping):
            raise ScheduleError(f"beat entry {name!r}: {key!r} must be a dict, got {value!r}")
    return Entry(
        name=name,
        task=task,
        schedule=_schedule_of(name, spec["schedule"], bool(spec.get("relative"))),
        args=tuple(args),
        kwargs=dict(kwargs or {}),
        options=dict(options or {}),
        policy=_policy_of(name, spec, default_grace),
    )


def beat_entries(beat_schedule: Mapping | None, default_grace: float | None = DEFAULT_GRACE) -> list[Entry]:
    """All entries of a Celery ``beat_schedule`` mapping, validated."""
    if not beat_schedule:
        return []
    if not isinstance(beat_schedule, Mapping):
        raise ScheduleError(f"beat_schedule must be a dict of entries, got {type(beat_schedule).__name__}")
    return [beat_entry(str(name), spec, default_grace) for name, spec in beat_schedule.items()]


def _periodiq_crontabs(name: str, spec: Any) -> tuple[crontab, ...]:
    """Translate a periodiq ``CronSpec`` (already-expanded lists) into compat crontabs."""
    try:
        minute, hour, dom, month, dow = spec.minute, spec.hour, spec.dom, spec.month, spec.dow
    except AttributeError:
        raise ScheduleError(f"actor {name!r}: periodic= must be periodiq.cron('...'), got {spec!r}") from None
    dow = sorted({d % 7 for d in dow})  # periodiq keeps 7 for Sunday; so do we
    if len(dom) < 31 and len(dow) < 7:  # cron: either restricted day field matches
        return (crontab(minute, hour, "*", dom, month), crontab(minute, hour, dow, "*", month))
    return (crontab(minute, hour, dow, dom, month),)


def actor_entries(actors: Iterable[Any], default_grace: float | None = DEFAULT_GRACE) -> list[Entry]:
    """Entries for actors declaring periodiq's ``periodic`` option."""
    entries = []
    for actor in actors:
        spec = getattr(actor, "options", {}).get("periodic")
        if spec is None:
            continue
        name = actor.actor_name
        options = {"queue": actor.queue_name} if getattr(actor, "queue_name", None) else {}
        entries.append(
            Entry(
                name=name,
                task=name,
                schedule=_periodiq_crontabs(name, spec),
                options=options,
                policy=MisfirePolicy(grace=default_grace),
                source="periodiq",
            )
        )
    return entries


def app_actors(app: Any) -> list[Any]:
    """The actors known to the app: its broker's declared actors, then ``app.tasks``."""
    found: dict[str, Any] = {}
    broker = getattr(app, "broker", None)
    if broker is not None:
        for actor_name in broker.get_declared_actors():
            found[actor_name] = broker.get_actor(actor_name)
    for task in dict(getattr(app, "tasks", None) or {}).values():
        found.setdefault(getattr(task, "actor_name", None) or repr(task), task)
    return [a for a in found.values() if hasattr(a, "actor_name")]


def merge(*groups: Iterable[Entry]) -> list[Entry]:
    """Merge entry lists; a name defined twice is an error rather than a silent override."""
    merged: dict[str, Entry] = {}
    for group in groups:
        for entry in group:
            if entry.name in merged:
                raise ScheduleError(
                    f"schedule entry {entry.name!r} is defined twice "
                    f"({merged[entry.name].source} and {entry.source})"
                )
            merged[entry.name] = entry
    return list(merged.values())


def app_entries(app: Any, default_grace: float | None = DEFAULT_GRACE) -> list[Entry]:
    """Every entry an app declares: ``app.conf.beat_schedule`` plus periodic actors."""
    beat = getattr(getattr(app, "conf", None), "beat_schedule", None)
    return merge(beat_entries(beat, default_grace), actor_entries(app_actors(app), default_grace))

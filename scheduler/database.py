"""Schedule entries from django-celery-beat's tables (``compat.contrib.django.beat``), kept current.

Selected by ``CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"`` (or
``"django"``, or our name ``"scheduler.database:DatabaseScheduler"``).  The only module of the
scheduler that imports Django.

* **Sync.** At start, ``CELERY_BEAT_SCHEDULE`` entries are written into rows by name, as
  django-celery-beat does (the settings win over an admin edit of the same row); a schedule no
  table can hold (your own ``BaseSchedule`` subclass) keeps running from settings, with a warning.
* **Change detection.** ``refresh()`` (every ``beat_max_loop_interval`` seconds, default 1) reads
  ``PeriodicTasks.last_update`` plus the rows' count and highest id; when any moved, every enabled
  row is read again.  Everything is read again every 5 minutes regardless (raw SQL, bulk updates).
* **Rows as entries.** Semantics are django-celery-beat's: crontabs in their own timezone (fired
  as a timetable: each tick once); intervals, solar and clocked rows asked ``is_due`` with the
  row's ``last_run_at`` (a row never run counts from its ``date_changed``, or fires at its
  ``start_time``); ``expires`` disables the row, ``one_off`` disables it after its run; args,
  kwargs and headers are JSON.  The last run *is* the row's ``last_run_at`` (with
  ``total_run_count``), written after each enqueue, so the admin shows it and a migrated
  database carries on where beat left off.
* **Bad rows** (unknown task, malformed JSON, an invalid crontab or timezone, no schedule) are
  logged once per version of the row, with its id, and skipped; the daemon keeps running.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import django

from compat.exceptions import ImproperlyConfigured, NotRegistered
from compat.schedules import BaseSchedule, clocked, crontab, schedule, solar

from .misfire import MisfirePolicy
from .sources import DEFAULT_GRACE, Entry
from .triggers import has_timetable

log = logging.getLogger("scheduler.database")

FULL_RELOAD_SECONDS = 300.0
DEFAULT_INTERVAL = 1.0
_BUILTIN_PREFIXES = ("celery.", "compat.")


def _models() -> Any:
    from django.apps import apps

    if not apps.ready:  # ``python -m scheduler`` with DJANGO_SETTINGS_MODULE: set Django up here
        if not os.environ.get("DJANGO_SETTINGS_MODULE"):
            raise ImproperlyConfigured(
                "the database scheduler reads Django models: set DJANGO_SETTINGS_MODULE, "
                "or run 'python manage.py scheduler'"
            )
        django.setup()

    if not apps.is_installed("compat.contrib.django.beat"):
        raise ImproperlyConfigured(
            "the database scheduler needs 'compat.contrib.django.beat' in INSTALLED_APPS "
            "(in place of 'django_celery_beat')"
        )
    from compat.contrib.django.beat import models

    return models


def fresh_connection() -> None:
    """Replace a connection the database dropped (or that is too old) before using it; never inside
    a transaction (a caller's, or a test's)."""
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RowStore:
    """One row's run state: its ``last_run_at`` is the entry's last run (see ``runs.Store``)."""

    row_id: int
    one_off: bool
    start_time: datetime | None
    expires: datetime | None
    changed_at: datetime

    def _rows(self) -> Any:
        fresh_connection()
        return _models().PeriodicTask.objects.filter(pk=self.row_id)

    def last(self) -> datetime | None:
        return _aware(self._rows().values_list("last_run_at", flat=True).first())

    @property
    def since(self) -> datetime:
        """No run of this row counts from before its last change."""
        return self.changed_at

    def baseline(self, now: datetime) -> datetime:
        """Never run: count from the row's last change; with a start time, be due at once then."""
        return self.changed_at - timedelta(days=365 * 30) if self.start_time else self.changed_at

    def gate(self, now: datetime) -> bool:
        """May the row fire now? Not before its start, not when disabled, expired or a spent one-off."""
        if self.start_time and now < self.start_time:
            return False
        state = self._rows().values_list("enabled", "total_run_count").first()
        if state is None or not state[0]:
            return False
        if self.expires is not None and now >= self.expires:
            self._rows().update(enabled=False)
            log.info("periodic task %s expired at %s: disabled", self.row_id, self.expires.isoformat())
            return False
        if self.one_off and state[1] > 0:
            self._finish_one_off()
            return False
        return True

    def advance(self, moment: datetime, runs: int) -> None:
        """Record a run at ``moment`` (only ever forward); a one-off is then disabled, as beat does."""
        from django.db.models import F, Q

        moved = (
            self._rows()
            .filter(Q(last_run_at__isnull=True) | Q(last_run_at__lt=moment))
            .update(last_run_at=moment, total_run_count=F("total_run_count") + runs)
        )
        if moved and runs and self.one_off:
            self._finish_one_off()

    def _finish_one_off(self) -> None:
        # django-celery-beat's end state for a one-off that ran: disabled, run count and last run cleared
        # (so enabling it again runs it once more).
        self._rows().update(enabled=False, total_run_count=0, last_run_at=None)
        _models().PeriodicTasks.update_changed()


class BadRow(ValueError):
    """A periodic task row that cannot be scheduled; the message says why."""


class DatabaseSource:
    """Entries from the enabled rows, refreshed when the rows change (see the module docstring).

    Parameters:
      app: the compat app (its registered tasks are checked against each row's task name).
      policies: misfire policies by entry name (from ``CELERY_BEAT_SCHEDULE``); others get ``grace``.
      grace: the default misfire grace in seconds.
      interval: seconds between change checks.
    """

    def __init__(
        self,
        app: Any,
        policies: Mapping[str, MisfirePolicy] | None = None,
        grace: float | None = DEFAULT_GRACE,
        interval: float | None = None,
    ) -> None:
        self.models = _models()
        self.app, self.policies, self.grace = app, dict(policies or {}), grace
        self.interval = float(interval or app.conf.get("beat_max_loop_interval") or DEFAULT_INTERVAL)
        self.entries: list[Entry] = []
        self._fingerprint: tuple | None = None
        self._loaded_at = 0.0
        self._reported: set[tuple] = set()

    # -- settings into rows ------------------------------------------------------------------------
    def sync(self, entries: Iterable[Entry]) -> list[Entry]:
        """Write settings entries into rows by name; returns those no table can hold (run from settings)."""
        kept = []
        for entry in entries:
            spec = entry.schedule
            if not isinstance(spec, (crontab, schedule, solar, clocked)) or not _storable(spec):
                log.warning(
                    "beat entry %s: a %s schedule has no table; it runs from settings, not from the admin",
                    entry.name,
                    type(spec).__name__,
                )
                kept.append(entry)
                continue
            self._write(entry)
        return kept

    def _write(self, entry: Entry) -> None:
        from django.db import IntegrityError, transaction

        kind, row = self.models.get_or_create_schedule(entry.schedule)
        options = dict(entry.options)
        expires = options.pop("expire_seconds", None) or options.pop("expires", None)
        defaults = {
            "task": entry.task,
            **{k: None for k in self.models.PeriodicTask.SCHEDULE_TYPES},
            kind: row,
            "args": json.dumps(list(entry.args)),
            "kwargs": json.dumps(dict(entry.kwargs)),
            "queue": options.get("queue"),
            "exchange": options.get("exchange"),
            "routing_key": options.get("routing_key"),
            "priority": options.get("priority"),
            "headers": json.dumps(options.get("headers") or {}),
            "expire_seconds": int(expires) if isinstance(expires, (int, float)) else None,
        }
        for attempt in range(2):  # several daemons start at once: the loser of the insert race updates
            try:
                with transaction.atomic():
                    self.models.PeriodicTask.objects.update_or_create(name=entry.name, defaults=defaults)
                return
            except IntegrityError:
                if attempt:
                    raise

    # -- rows into entries -------------------------------------------------------------------------
    def refresh(self) -> list[Entry] | None:
        """The entries if the rows changed since the last call (or on the 5-minute reload), else None."""
        from django.db import DatabaseError, InterfaceError

        try:
            fresh_connection()
            fingerprint = self._read_fingerprint()
            due_for_reload = time.monotonic() - self._loaded_at >= FULL_RELOAD_SECONDS
            if fingerprint == self._fingerprint and not due_for_reload:
                return None
            entries = self._load()
        except (DatabaseError, InterfaceError) as exc:
            log.warning(
                "database schedule: cannot read the periodic tasks (%s); keeping what was loaded", exc
            )
            return None
        if self._fingerprint is not None and fingerprint != self._fingerprint:
            log.info("database schedule changed: %d enabled periodic tasks", len(entries))
        self._fingerprint, self._loaded_at, self.entries = fingerprint, time.monotonic(), entries
        return entries

    def _read_fingerprint(self) -> tuple:
        from django.db.models import Count, Max

        stats = self.models.PeriodicTask.objects.aggregate(count=Count("id"), top=Max("id"))
        return self.models.PeriodicTasks.last_change(), stats["count"], stats["top"]

    def _load(self) -> list[Entry]:
        entries = []
        for row in self.models.PeriodicTask.objects.enabled().order_by("id"):
            try:
                entries.append(self.entry(row))
            except BadRow as exc:
                self._report(row, str(exc))
            except Exception as exc:  # whatever else a hand-edited row holds, it must not hide the others
                self._report(row, f"cannot be scheduled ({type(exc).__name__}: {exc})")
        return entries

    def _report(self, row: Any, problem: str, level: int = logging.ERROR, outcome: str = "skipped") -> None:
        key = (row.pk, row.date_changed, problem)
        if key not in self._reported:
            self._reported.add(key)
            log.log(level, "periodic task %s (%r): %s; %s", row.pk, row.name, problem, outcome)

    def entry(self, row: Any) -> Entry:
        """The entry for one enabled row; ``BadRow`` says what is wrong with it."""
        self._check_task(row.task)
        args, kwargs, headers = (
            _json(row, f, kind) for f, kind in (("args", list), ("kwargs", dict), ("headers", dict))
        )
        options: dict[str, Any] = {"headers": {**headers, "periodic_task_name": row.name}}
        for key in ("queue", "priority"):
            if getattr(row, key) is not None:
                options[key] = getattr(row, key)
        if row.expires_:
            options["expires"] = _aware(row.expires) if row.expires else row.expire_seconds
        if row.exchange or row.routing_key:
            problem = (
                "exchange/routing_key are AMQP routing options with no meaning here (see docs/compat.md)"
            )
            self._report(row, problem, logging.WARNING, "ignored; the queue decides")
        store = RowStore(
            row.pk,
            row.one_off,
            _aware(row.start_time),
            _aware(row.expires),
            _aware(row.date_changed) or _utc_now(),
        )
        return Entry(
            name=row.name,
            task=row.task,
            schedule=self._schedule(row),
            args=tuple(args),
            kwargs=kwargs,
            options=options,
            policy=self.policies.get(row.name, MisfirePolicy(grace=self.grace)),
            source="database",
            store=store,
        )

    def _schedule(self, row: Any) -> BaseSchedule:
        kinds = [k for k in self.models.PeriodicTask.SCHEDULE_TYPES if getattr(row, f"{k}_id")]
        if len(kinds) != 1:
            raise BadRow(f"needs exactly one of interval, crontab, solar, clocked; has {kinds or 'none'}")
        try:
            spec = row.schedule
            if isinstance(spec, solar):
                spec.check()
        except (ValueError, TypeError, ArithmeticError, ImproperlyConfigured, LookupError) as exc:
            raise BadRow(f"invalid {kinds[0]} schedule: {exc}") from None
        if kinds[0] == "interval":  # counted from the last run, as beat does: asked is_due
            spec = schedule(spec.run_every, nowfun=lambda: _utc_now())
        return spec

    def _check_task(self, name: str) -> None:
        tasks = getattr(self.app, "tasks", {}) or {}
        if not any(not t.startswith(_BUILTIN_PREFIXES) for t in tasks):
            return  # nothing registered in this process (tasks not imported here): cannot judge names
        try:
            resolved = self.app.resolve_name(name)
        except NotRegistered as exc:
            raise BadRow(f"unknown task {name!r}: {exc}") from None
        if resolved not in tasks:
            raise BadRow(f"unknown task {name!r} (no task of that name is registered)")


def _json(row: Any, field: str, kind: type) -> Any:
    text = getattr(row, field) or ("[]" if kind is list else "{}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRow(f"{field} is not valid JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(value, kind):
        raise BadRow(f"{field} must be a JSON {'list' if kind is list else 'object'}, got {text[:200]!r}")
    return value


def _storable(spec: BaseSchedule) -> bool:
    if isinstance(spec, schedule):
        return has_timetable(spec) and spec.run_every.total_seconds() == int(spec.run_every.total_seconds())
    return type(spec) in (solar, clocked) or has_timetable(spec)


#: ``CELERY_BEAT_SCHEDULER = "scheduler.database:DatabaseScheduler"`` names this source.
DatabaseScheduler = DatabaseSource

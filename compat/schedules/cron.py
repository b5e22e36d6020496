"""``crontab`` (Celery's) and ``TzAwareCrontab`` (django-celery-beat's: a crontab in its own timezone).

Each field is expanded once into a frozenset (``fields.py``).  ``day_of_week`` uses cron numbering
(0 and 7 are Sunday).  When both ``day_of_month`` and ``day_of_week`` are restricted, both must match
(Celery's rule, not cron's "either").

The next run after ``last_run_at`` is the first whole minute after ``last_run_at``'s minute whose
wall time, in the schedule's timezone, matches every field; ``remaining_estimate`` is that minus
``now()`` in real time, and ``is_due`` follows Celery (including ``beat_cron_starting_deadline``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from .base import BaseSchedule, schedstate
from .fields import PARSERS, ParseException

__all__ = ["crontab", "TzAwareCrontab", "next_run_after"]

#: Longest month lengths (February 29) to reject a day that never occurs in the given months.
_DAYS_IN_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
_SEARCH_DAYS = 366 * 29  # enough for "Feb 29 that is a Monday" (a 28-year cycle)
_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


class crontab(BaseSchedule):  # noqa: N801 - Celery's public name
    """A cron-like schedule: ``crontab(minute, hour, day_of_week, day_of_month, month_of_year, **kw)``."""

    def __init__(
        self,
        minute: object = "*",
        hour: object = "*",
        day_of_week: object = "*",
        day_of_month: object = "*",
        month_of_year: object = "*",
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - {"nowfun", "app"}
        if unknown:
            raise TypeError(f"crontab() got unexpected arguments: {sorted(unknown)}")
        specs = dict(zip(_FIELDS, (minute, hour, day_of_week, day_of_month, month_of_year), strict=True))
        for name, spec in specs.items():
            value = "*" if spec is None else spec
            setattr(self, f"_orig_{name}", value)
            setattr(self, name, PARSERS[name].parse(value))
        self._orig_kwargs = dict(kwargs)
        for name in _FIELDS:
            if not getattr(self, name):
                raise ParseException(f"{name}: {getattr(self, f'_orig_{name}')!r} allows no value")
        if not any(day <= _DAYS_IN_MONTH[m] for m in self.month_of_year for day in self.day_of_month):
            raise ValueError(
                f"Invalid crontab: day_of_month {self._orig_day_of_month!r} never occurs in "
                f"month_of_year {self._orig_month_of_year!r}."
            )
        super().__init__(nowfun=kwargs.get("nowfun"), app=kwargs.get("app"))

    @classmethod
    def from_string(cls, expression: str) -> crontab:
        """``crontab.from_string("*/5 * * * 1-5")``: minute hour day-of-month month day-of-week."""
        parts = expression.split()
        if len(parts) != 5:
            raise ParseException(f"a cron expression has 5 fields, got {len(parts)} in {expression!r}")
        minute, hour, day_of_month, month_of_year, day_of_week = parts
        return cls(minute, hour, day_of_week, day_of_month, month_of_year)

    def fields(self) -> dict[str, frozenset[int]]:
        """The expanded fields by Celery name."""
        return {name: getattr(self, name) for name in _FIELDS}

    def next_run(self, last_run_at: datetime, tz: tzinfo | None = None) -> datetime:
        """The first run after ``last_run_at`` (aware, in ``tz`` or the schedule's timezone)."""
        zone = tz or self.tz
        return next_run_after(self, self.maybe_make_aware(last_run_at).astimezone(zone))

    def remaining_delta(self, last_run_at: datetime, tz: tzinfo | None = None) -> tuple:
        """``(last_run_at, delta, now)`` in its timezone; ``last_run_at + delta`` is the next run."""
        zone = tz or self.tz
        last = self.maybe_make_aware(last_run_at).astimezone(zone)
        now = self.maybe_make_aware(self.now()).astimezone(zone)
        return last, next_run_after(self, last).astimezone(UTC) - last.astimezone(UTC), now

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time from ``now()`` until the next run after ``last_run_at`` (negative when a run was missed)."""
        last, delta, now = self.remaining_delta(last_run_at)
        return last.astimezone(UTC) + delta - now.astimezone(UTC)

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due when a run fell after ``last_run_at``; ``next`` is the time to the following run."""
        rem_secs = self.remaining_estimate(last_run_at).total_seconds()
        due = rem_secs <= 0
        deadline = _conf(self.app, "beat_cron_starting_deadline")
        too_late = False
        if deadline is not None and rem_secs < 0:
            now = self.maybe_make_aware(self.now())
            since = now.astimezone(UTC) - timedelta(seconds=deadline, microseconds=1)
            if self.remaining_estimate(since.astimezone(now.tzinfo)).total_seconds() > 0:
                due, too_late = False, True
        if due or too_late:
            rem_secs = self.remaining_estimate(self.now()).total_seconds()
        return schedstate(due, max(rem_secs, 0))

    def __repr__(self) -> str:
        o = [getattr(self, f"_orig_{name}") for name in ("minute", "hour", "day_of_month", "month_of_year")]
        return f"<crontab: {' '.join(map(str, o))} {self._orig_day_of_week} (m/h/dM/MY/d)>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, crontab):
            return self.fields() == other.fields() and super().__eq__(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.fields().values()))

    def __reduce__(self) -> tuple:
        orig = tuple(getattr(self, f"_orig_{name}") for name in _FIELDS)
        return self.__class__, orig, self._orig_kwargs

    def __setstate__(self, state: dict) -> None:
        BaseSchedule.__init__(self, **state)
        self._orig_kwargs = dict(state)


class TzAwareCrontab(crontab):
    """A crontab evaluated in its own timezone ``tz`` (django-celery-beat's ``CrontabSchedule.timezone``)."""

    def __init__(
        self,
        minute: object = "*",
        hour: object = "*",
        day_of_week: object = "*",
        day_of_month: object = "*",
        month_of_year: object = "*",
        tz: tzinfo = UTC,
        app: Any = None,
    ) -> None:
        self.zone = tz
        super().__init__(
            minute, hour, day_of_week, day_of_month, month_of_year, nowfun=self._now_in_zone, app=app
        )

    @property
    def tz(self) -> tzinfo:
        return self.zone

    def _now_in_zone(self) -> datetime:
        return datetime.now(self.zone)

    def is_due(self, last_run_at: datetime) -> schedstate:
        return super().is_due(self.maybe_make_aware(last_run_at).astimezone(self.zone))

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, {self.zone}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, crontab):
            return self.fields() == other.fields() and getattr(other, "zone", None) == self.zone
        return NotImplemented

    def __hash__(self) -> int:
        return hash((*self.fields().values(), str(self.zone)))

    def __reduce__(self) -> tuple:
        orig = tuple(getattr(self, f"_orig_{name}") for name in _FIELDS)
        return self.__class__, (*orig, self.zone), None


def _conf(app: Any, key: str) -> Any:
    conf = getattr(app, "conf", None)
    return conf.get(key) if conf is not None else None


def next_run_after(spec: crontab, last: datetime) -> datetime:
    """The first minute after ``last``'s minute matching ``spec``, as wall time in ``last``'s timezone."""
    zone = last.tzinfo
    wall = last.replace(tzinfo=None, second=0, microsecond=0)
    minutes, hours = sorted(spec.minute), sorted(spec.hour)
    day = wall.date()
    for _ in range(_SEARCH_DAYS):
        if _day_matches(spec, day):
            moment = _first_time(day, hours, minutes, wall if day == wall.date() else None)
            if moment is not None:
                return moment.replace(tzinfo=zone)
        day += timedelta(days=1)
    raise ValueError(f"{spec!r} never fires after {last.isoformat()}")


def _day_matches(spec: crontab, day: date) -> bool:
    return (
        day.month in spec.month_of_year
        and day.day in spec.day_of_month
        and day.isoweekday() % 7 in spec.day_of_week
    )


def _first_time(day: date, hours: list[int], minutes: list[int], after: datetime | None) -> datetime | None:
    for hour in hours:
        if after is not None and hour < after.hour:
            continue
        for minute in minutes:
            if after is not None and hour == after.hour and minute <= after.minute:
                continue
            return datetime(day.year, day.month, day.day, hour, minute)
    return None

"""``BaseSchedule`` and the interval ``schedule``: Celery's ``is_due``/``remaining_estimate`` protocol.

A schedule answers two questions beat asks: ``remaining_estimate(last_run_at)`` (how long until the
next run, negative when overdue) and ``is_due(last_run_at) -> schedstate(is_due, next)`` (run now?
and seconds until it is worth asking again).  ``now()`` is ``nowfun()`` when given, else the app's
clock in the app's timezone.  User subclasses overriding ``is_due`` are honoured by the scheduler
daemon exactly as beat honours them.

Datetime rules are Celery's: a naive ``last_run_at`` is taken as UTC (``maybe_make_aware``), and
time differences are computed in absolute (UTC) time, never in wall-clock time.
"""

from __future__ import annotations

import numbers
from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "BaseSchedule",
    "schedstate",
    "schedule",
    "maybe_schedule",
    "maybe_make_aware",
    "maybe_timedelta",
    "remaining",
    "app_timezone",
]

schedstate = namedtuple("schedstate", ("is_due", "next"))


def maybe_timedelta(value: timedelta | float | int) -> timedelta:
    """Return ``value`` as a ``timedelta``; numbers are seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"run_every must be a timedelta or a number of seconds, not {value!r}")
    return timedelta(seconds=float(value))


def maybe_make_aware(dt: datetime, tz: tzinfo | None = None, naive_as_utc: bool = True) -> datetime:
    """``dt`` made aware: naive means UTC (or, with ``naive_as_utc=False``, wall time in ``tz``)."""
    if dt.tzinfo is not None and dt.tzinfo.utcoffset(dt) is not None:
        return dt
    if naive_as_utc or tz is None:
        return dt.replace(tzinfo=UTC)
    return dt.replace(tzinfo=tz)


def _to_zone(name: Any) -> tzinfo:
    return name if isinstance(name, tzinfo) else ZoneInfo(str(name))


def app_timezone(app: Any) -> tzinfo:
    """The app's timezone as Celery derives it: ``timezone``, else UTC (``enable_utc``) or local time."""
    zone = getattr(app, "timezone", None)
    if isinstance(zone, tzinfo):
        return zone
    conf = getattr(app, "conf", None)
    name = conf.get("timezone") if conf is not None else None
    if name:
        return _to_zone(name)
    if conf is not None and conf.get("enable_utc") is False:
        return datetime.now().astimezone().tzinfo or UTC
    return UTC


def _delta_resolution(moment: datetime, delta: timedelta) -> datetime:
    """Round ``moment`` down to the unit of ``delta`` (days, hours or minutes), as ``relative=True`` does."""
    seconds = max(delta.total_seconds(), 0)
    fields = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    for keep, unit in ((3, 86400), (4, 3600), (5, 60)):
        if seconds / unit >= 1.0:
            return datetime(*fields[:keep], tzinfo=moment.tzinfo, fold=moment.fold)
    return moment


def remaining(
    start: datetime, ends_in: timedelta, now: datetime | None = None, relative: bool = False
) -> timedelta:
    """Time left until ``start + ends_in`` (rounded to ``ends_in``'s unit when ``relative``), in real time."""
    now = now or datetime.now(UTC)
    end = (start.astimezone(UTC) + ends_in).astimezone(start.tzinfo)
    if relative:
        rounded = _delta_resolution(end, ends_in)
        end = rounded if rounded > start else end
    return end.astimezone(UTC) - now.astimezone(UTC)


class BaseSchedule:
    """What every schedule shares: the clock (``nowfun`` or the app's), the app and its timezone."""

    def __init__(self, nowfun: Callable[[], datetime] | None = None, app: Any = None) -> None:
        self.nowfun = nowfun
        self._app = app

    @property
    def app(self) -> Any:
        """The app given, else compat's current app."""
        if self._app is None:
            from compat.app import get_current_app

            return get_current_app()
        return self._app

    @app.setter
    def app(self, app: Any) -> None:
        self._app = app

    @property
    def tz(self) -> tzinfo:
        """The timezone schedules compute in: the app's (``timezone`` setting), UTC by default."""
        return app_timezone(self.app)

    @property
    def utc_enabled(self) -> bool:
        return bool(self.app.conf.get("enable_utc", True))

    def now(self) -> datetime:
        """``nowfun()``, else the current time in the app's timezone."""
        if self.nowfun is not None:
            return self.nowfun()
        return datetime.now(UTC).astimezone(self.tz)

    def maybe_make_aware(self, dt: datetime, naive_as_utc: bool = True) -> datetime:
        """``dt`` made aware (naive means UTC) using this schedule's timezone."""
        return maybe_make_aware(dt, self.tz, naive_as_utc=naive_as_utc)

    def to_local(self, dt: datetime) -> datetime:
        """``dt`` unchanged (``enable_utc``), else in local time; kept for subclasses written for Celery."""
        return dt if self.utc_enabled else dt.astimezone()

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time until the next run after ``last_run_at`` (negative when overdue); subclasses define it."""
        raise NotImplementedError()

    def is_due(self, last_run_at: datetime) -> schedstate:
        """``(is_due, seconds until the next check)``; subclasses define it."""
        raise NotImplementedError()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseSchedule):
            return other.nowfun == self.nowfun
        return NotImplemented

    __hash__ = object.__hash__


class schedule(BaseSchedule):  # noqa: N801 - Celery's public name
    """A fixed interval: ``schedule(run_every=timedelta | seconds, relative=False, nowfun=None, app=None)``.

    With ``relative=True`` the next run is rounded down to the interval's unit (an hourly schedule
    runs on the hour), as in Celery.
    """

    def __init__(
        self,
        run_every: timedelta | float | int,
        relative: bool = False,
        nowfun: Callable[[], datetime] | None = None,
        app: Any = None,
    ) -> None:
        self.run_every = maybe_timedelta(run_every)
        if self.run_every <= timedelta(0):
            raise ValueError(f"run_every must be positive, got {self.run_every}")
        self.relative = bool(relative)
        super().__init__(nowfun=nowfun, app=app)

    @property
    def seconds(self) -> float:
        """The interval in seconds."""
        return self.run_every.total_seconds()

    @property
    def human_seconds(self) -> str:
        return f"{self.seconds:g} seconds"

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """``last_run_at + run_every - now``."""
        return remaining(
            self.maybe_make_aware(last_run_at),
            self.run_every,
            self.maybe_make_aware(self.now()),
            self.relative,
        )

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due once ``run_every`` has passed since ``last_run_at``; then check again in one interval."""
        last_run_at = self.maybe_make_aware(last_run_at)
        remaining_s = max(self.remaining_estimate(last_run_at).total_seconds(), 0)
        if remaining_s:
            return schedstate(is_due=False, next=remaining_s)
        next_s = self.seconds
        if self.relative:
            now = self.maybe_make_aware(self.now()).astimezone(last_run_at.tzinfo)
            next_s = self.remaining_estimate(now).total_seconds()
            if next_s <= 0:
                next_s = self.seconds
        return schedstate(is_due=True, next=next_s)

    def __repr__(self) -> str:
        return f"<freq: {self.run_every}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, schedule):
            return self.run_every == other.run_every
        return self.run_every == other

    def __hash__(self) -> int:
        return hash(self.run_every)

    def __reduce__(self) -> tuple:
        return self.__class__, (self.run_every, self.relative, self.nowfun)


def maybe_schedule(value: Any, relative: bool = False, app: Any = None) -> Any:
    """A schedule from seconds, a ``timedelta`` or a schedule object (which gets ``app``)."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if isinstance(value, timedelta):
        return schedule(value, relative, app=app)
    if app is not None and isinstance(value, BaseSchedule):
        value.app = app
    return value

"""Turn compat schedules into APScheduler 3 triggers, and walk their fire times.

Two APScheduler habits are corrected here rather than left to each caller:

* APScheduler numbers ``day_of_week`` from Monday = 0, cron from Sunday = 0 (and 7).  We hand
  APScheduler day *names* built from the already-expanded crontab sets, so no number is ever
  reinterpreted.
* ``CronTrigger`` fires twice for a wall-clock time that occurs twice when clocks go back
  (02:30 on the last Sunday of October in Europe/Berlin).  ``DstSafeCronTrigger`` keeps the
  first occurrence only when the hour field is restricted (a "daily at 02:30" job runs once),
  and keeps both for every-hour schedules, which really should run in each of the two hours.
  For the hour that does not exist in spring APScheduler already fires once, an hour later in
  wall-clock terms, which is what we want.

Interval schedules are anchored to the Unix epoch in UTC, so every daemon computes the same
fire times; that is what makes the per-(entry, fire time) dedupe key meaningful.

Only the built-in schedules have a timetable (``has_timetable``): a plain ``crontab`` (or a
``TzAwareCrontab``, in its own zone), a plain ``schedule`` and periodiq's crontab lists.  Anything
else (a ``BaseSchedule`` subclass, ``solar``, ``clocked``, ``relative=True``, a ``nowfun``) is asked
``is_due`` by the daemon, as beat asks it; ``IsDueTrigger`` only estimates its next runs for
``--list`` and the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from compat.schedules import DAY_NAMES, BaseSchedule, TzAwareCrontab, clocked, crontab, schedule

_TICK = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
APS_DAY_NAMES = DAY_NAMES  # APScheduler accepts the same three-letter English names

Schedule = BaseSchedule | Sequence[crontab]


def has_timetable(spec: object) -> bool:
    """True for the schedules whose fire times are known in advance (and so fire as a timetable)."""
    if isinstance(spec, (list, tuple)):
        return bool(spec) and all(has_timetable(s) for s in spec)
    if type(spec) is TzAwareCrontab:
        return True
    if type(spec) is crontab:
        return spec.nowfun is None
    return type(spec) is schedule and not spec.relative and spec.nowfun is None


class IsDueTrigger(BaseTrigger):
    """Estimated fire times of an ``is_due`` schedule: the next run after the previous one.

    ``remaining_estimate(previous)`` is measured from the schedule's own clock, so
    ``now() + remaining_estimate(previous)`` is the run after ``previous`` whatever ``now`` is.
    """

    def __init__(self, spec: BaseSchedule) -> None:
        self.spec = spec

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if isinstance(self.spec, clocked):
            at = self.spec.clocked_time
            return at if previous_fire_time is None or _utc(previous_fire_time) < _utc(at) else None
        last = previous_fire_time or now
        try:
            fire = _utc(self.spec.maybe_make_aware(self.spec.now())) + self.spec.remaining_estimate(last)
        except NotImplementedError:  # a subclass with is_due only: ask it
            due, next_s = self.spec.is_due(last)
            fire = _utc(now) + timedelta(seconds=0 if due else float(next_s))
        return max(fire, _utc(now))

    def __str__(self) -> str:
        return f"is_due {self.spec!r}"


class DstSafeCronTrigger(CronTrigger):
    """A ``CronTrigger`` that fires once for a fixed wall-clock time on the fall-back day."""

    def __init__(self, *, skip_repeated_wall_time: bool, **fields: object) -> None:
        super().__init__(**fields)
        self.skip_repeated_wall_time = skip_repeated_wall_time

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """Like ``CronTrigger``'s, but never going backwards in a fold and never repeating a wall time."""
        floor = now if previous_fire_time is None else min(now, _utc_step(previous_fire_time, _TICK))
        for _ in range(1000):
            fire = super().get_next_fire_time(previous_fire_time, now)
            if fire is not None and _utc(fire) < _utc(floor):
                # APScheduler's wall-clock stepping picked the wrong side of a fold (or stalled).
                later = _utc_step(fire.replace(fold=1), timedelta(0))
                if _utc(later) < _utc(floor):
                    previous_fire_time, now = None, _utc_step(floor, timedelta(seconds=1))
                    continue
                fire = later
            if fire is None or not (self.skip_repeated_wall_time and _is_second_occurrence(fire)):
                return fire
            previous_fire_time, now = None, _after_fold(fire)
            floor = now
        raise RuntimeError(f"{self}: no next fire time found after {now}")

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["skip_repeated_wall_time"] = self.skip_repeated_wall_time
        return state

    def __setstate__(self, state: dict) -> None:
        self.skip_repeated_wall_time = state.pop("skip_repeated_wall_time", True)
        super().__setstate__(state)


def _is_second_occurrence(moment: datetime) -> bool:
    """True when ``moment``'s wall time happened once already, an hour or so earlier."""
    wall = moment.replace(tzinfo=None)
    zone = moment.tzinfo
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    # In a fold the earlier offset is the larger one; in a gap it is the other way round.
    return first is not None and second is not None and first > second and moment.utcoffset() == second


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC: datetimes sharing a tzinfo compare by wall time, ignoring the fold."""
    return moment.astimezone(UTC)


def _utc_step(moment: datetime, step: timedelta) -> datetime:
    """``moment + step`` in absolute time, expressed back in ``moment``'s zone."""
    return (moment.astimezone(UTC) + step).astimezone(moment.tzinfo)


def _after_fold(moment: datetime) -> datetime:
    """The first whole minute after ``moment`` whose wall time is not repeated."""
    step = timedelta(minutes=1)  # in UTC: aware arithmetic in a zone is wall-clock arithmetic
    candidate = moment.astimezone(UTC) + step
    for _ in range(24 * 60):
        local = candidate.astimezone(moment.tzinfo)
        if not _is_second_occurrence(local):
            return local
        candidate += step
    return candidate.astimezone(moment.tzinfo)


def _join(values: frozenset[int], full: range) -> str:
    if set(full) <= values:
        return "*"
    return ",".join(str(v) for v in sorted(values))


def cron_trigger(spec: crontab, tz: tzinfo) -> DstSafeCronTrigger:
    """Translate a compat ``crontab`` into a DST-safe APScheduler cron trigger."""
    days = "*" if len(spec.day_of_week) == 7 else ",".join(APS_DAY_NAMES[d] for d in sorted(spec.day_of_week))
    return DstSafeCronTrigger(
        skip_repeated_wall_time=len(spec.hour) < 24,
        second="0",
        minute=_join(spec.minute, range(60)),
        hour=_join(spec.hour, range(24)),
        day=_join(spec.day_of_month, range(1, 32)),
        month=_join(spec.month_of_year, range(1, 13)),
        day_of_week=days,
        timezone=tz,
    )


def build_trigger(spec: Schedule, tz: tzinfo) -> BaseTrigger:
    """Build the APScheduler trigger for a schedule (a list of crontabs means "any of them")."""
    if isinstance(spec, (list, tuple)) and has_timetable(spec):
        if len(spec) == 1:
            return build_trigger(spec[0], tz)
        return OrTrigger([build_trigger(s, tz) for s in spec])
    if not has_timetable(spec):
        if isinstance(spec, BaseSchedule):
            return IsDueTrigger(spec)
        raise TypeError(f"cannot build a trigger from {spec!r}")
    if isinstance(spec, crontab):
        return cron_trigger(spec, spec.zone if isinstance(spec, TzAwareCrontab) else tz)
    return IntervalTrigger(seconds=spec.seconds, start_date=EPOCH, timezone=UTC)


def next_fire_times(trigger: BaseTrigger, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``."""
    times: list[datetime] = []
    previous = None
    now = _utc_step(after, _TICK)
    while len(times) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire)
        previous, now = fire, _utc_step(fire, _TICK)
    return times


def fire_times_between(
    trigger: BaseTrigger, after: datetime, upto: datetime, limit: int = 10_000
) -> tuple[list[datetime], bool]:
    """Fire times in ``(after, upto]``, oldest first, at most ``limit``; the flag says "more"."""
    times: list[datetime] = []
    previous = None
    now = _utc_step(after, _TICK)
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or _utc(fire) > _utc(upto):
            return times, False
        if len(times) == limit:
            return times, True
        times.append(fire)
        previous, now = fire, _utc_step(fire, _TICK)


def last_fire_time(trigger: BaseTrigger, after: datetime, upto: datetime) -> datetime | None:
    """The latest fire time in ``(after, upto]``, found by widening a window back from ``upto``."""
    window = timedelta(minutes=1)
    while True:
        start = max(_utc(after), _utc(upto) - window)
        times, more = fire_times_between(trigger, start, upto, limit=1_000)
        if times and not more:
            return times[-1]
        if more:  # dense schedule: a narrower window suffices
            window /= 10
            continue
        if start == _utc(after):
            return None
        window *= 8


def describe(trigger: BaseTrigger) -> str:
    """A short human description of a trigger, for ``--list`` and logs."""
    if isinstance(trigger, IntervalTrigger):
        return f"every {trigger.interval_length:g}s"
    if isinstance(trigger, IsDueTrigger):
        return str(trigger)
    if isinstance(trigger, OrTrigger):
        return " or ".join(describe(t) for t in trigger.triggers)
    if isinstance(trigger, CronTrigger):
        fields = {f.name: str(f) for f in trigger.fields}
        text = " ".join(fields[n] for n in ("minute", "hour", "day", "month", "day_of_week"))
        return f"cron[{text}] {trigger.timezone}"
    return str(trigger)

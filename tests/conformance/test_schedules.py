"""Differential programs for the schedule API: ``celery.schedules`` vs ``compat.schedules``.

Each program is written once against the names both stacks share (``ns.schedule``, ``ns.crontab``,
``ns.solar``, ``ns.BaseSchedule``, ``ns.schedstate``, ``ns.app``) and returns plain values: ``is_due``
tuples and ``remaining_estimate`` seconds for a grid of (last run, now) pairs, with the clock fixed
by ``nowfun``.  Celery (5.7, test-only) computes the expected outcome; compat must return the same.
django-celery-beat's ``TzAwareCrontab`` and ``clocked`` are compared the same way.
"""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
STARTS = [
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 2, 27, 23, 59, 30, tzinfo=UTC),
    datetime(2026, 5, 31, 12, 29, 59, 900000, tzinfo=UTC),
    datetime(2026, 7, 4, 6, 15, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 58, tzinfo=UTC),
    datetime(2028, 2, 28, 22, 0, tzinfo=UTC),  # leap year
]
OFFSETS = [0, 1, 29.5, 30, 59, 60, 61, 600, 3599, 3600, 3601, 86399, 86400, 86401, 7 * 86400, 40 * 86400]
CRONTABS = [
    {},
    {"minute": "*/15"},
    {"minute": 0, "hour": "*/3"},
    {"minute": "30", "hour": "8-17", "day_of_week": "mon-fri"},
    {"minute": 0, "hour": 0, "day_of_month": "1"},
    {"minute": "5,35", "hour": "22-2"},
    {"minute": 0, "hour": 12, "day_of_month": "29", "month_of_year": "2"},
    {"minute": 0, "hour": 4, "day_of_week": "sun", "day_of_month": "1-7"},
    {"minute": 59, "hour": 23, "day_of_month": "31"},
    {"minute": 0, "hour": 9, "month_of_year": "*/3"},
]


def stack(name: str, tz: str = "UTC") -> types.SimpleNamespace:
    """The schedule classes of one stack and an app in timezone ``tz``."""
    if name == "celery":
        import celery
        import celery.schedules as mod

        app = celery.Celery("schedtest", set_as_current=False)
        app.conf.timezone = tz
    else:
        import compat
        import compat.schedules as mod

        app = compat.Celery("schedtest", broker="redis://127.0.0.1:1/0", set_as_current=False, timezone=tz)
    return types.SimpleNamespace(
        name=name,
        app=app,
        schedule=mod.schedule,
        crontab=mod.crontab,
        solar=mod.solar,
        BaseSchedule=mod.BaseSchedule,
        schedstate=mod.schedstate,
    )


def clock(moment: datetime):
    return lambda: moment


def probe(make, pairs) -> list:
    """``(is_due, next)`` and ``remaining_estimate`` (seconds, to the microsecond) for each (last, now)."""
    out = []
    for last, now in pairs:
        sched = make(clock(now))
        due, nxt = sched.is_due(last)
        out.append(
            (bool(due), round(float(nxt), 6), round(sched.remaining_estimate(last).total_seconds(), 6))
        )
    return out


def pairs(zone=UTC) -> list[tuple[datetime, datetime]]:
    return [
        (s.astimezone(zone), (s + timedelta(seconds=o)).astimezone(zone)) for s in STARTS for o in OFFSETS
    ]


def both(program, *args) -> tuple:
    return program(stack("celery", *args)), program(stack("compat", *args))


@pytest.mark.parametrize("run_every", [1, 30, 60.5, 3600, timedelta(days=1)])
def test_schedule_is_due_and_remaining_estimate(run_every):
    def program(ns):
        return probe(lambda now: ns.schedule(run_every, nowfun=now, app=ns.app), pairs())

    celery_out, compat_out = both(program)
    assert compat_out == celery_out


def test_schedule_naive_last_run_is_utc():
    def program(ns):
        now = datetime(2026, 3, 1, 12, 0, 10, tzinfo=BERLIN)
        sched = ns.schedule(30, nowfun=clock(now), app=ns.app)
        naive = datetime(2026, 3, 1, 11, 0, 0)  # 11:00 UTC = 12:00 Berlin: 10 s ago
        return tuple(sched.is_due(naive)), sched.remaining_estimate(naive).total_seconds()

    celery_out, compat_out = both(program, "Europe/Berlin")
    assert compat_out == celery_out == ((False, 20.0), 20.0)


@pytest.mark.parametrize("run_every", [timedelta(minutes=1), timedelta(hours=1)])
def test_relative_schedule_rounds_to_the_interval(run_every):
    def program(ns):
        grid = [(s, s + timedelta(seconds=o)) for s in STARTS[2:4] for o in (0, 10, 59, 61, 3599, 3700)]
        return probe(lambda now: ns.schedule(run_every, relative=True, nowfun=now, app=ns.app), grid)

    celery_out, compat_out = both(program)
    assert compat_out == celery_out


@pytest.mark.parametrize("spec", CRONTABS, ids=lambda s: " ".join(f"{k}={v}" for k, v in s.items()) or "*")
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
def test_crontab_with_nowfun(spec, tz):
    zone = ZoneInfo(tz)

    def program(ns):
        return probe(lambda now: ns.crontab(**spec, nowfun=now, app=ns.app), pairs(zone))

    celery_out, compat_out = both(program, tz)
    assert compat_out == celery_out


def test_crontab_starting_deadline():
    def program(ns):
        ns.app.conf.beat_cron_starting_deadline = 120
        return probe(lambda now: ns.crontab(minute=0, nowfun=now, app=ns.app), pairs())

    celery_out, compat_out = both(program)
    assert compat_out == celery_out


def test_crontab_remaining_delta_gives_the_next_run():
    def program(ns):
        out = []
        for last, now in pairs(NEW_YORK)[::7]:
            sched = ns.crontab(minute="30", hour="8-17", day_of_week="mon-fri", nowfun=clock(now), app=ns.app)
            start, delta, now_tz = sched.remaining_delta(last)
            out.append(((start + delta).astimezone(UTC).isoformat(), now_tz.isoformat()))
        return out

    celery_out, compat_out = both(program, "America/New_York")
    assert compat_out == celery_out


def custom_business_hours(ns):
    """A user's subclass as kitsune and saleor write them: ``BaseSchedule`` with both methods."""

    class every_n_in_office_hours(ns.BaseSchedule):  # noqa: N801
        def __init__(self, seconds, **kwargs):
            self.seconds = seconds
            super().__init__(**kwargs)

        def remaining_estimate(self, last_run_at):
            now = self.maybe_make_aware(self.now())
            due_at = self.maybe_make_aware(last_run_at) + timedelta(seconds=self.seconds)
            if not 9 <= due_at.hour < 17:
                day = due_at if due_at.hour < 9 else due_at + timedelta(days=1)
                due_at = day.replace(hour=9, minute=0, second=0, microsecond=0)
            return due_at - now

        def is_due(self, last_run_at):
            rem = self.remaining_estimate(last_run_at).total_seconds()
            if rem <= 0:
                return ns.schedstate(True, self.seconds)
            return ns.schedstate(False, rem)

    return probe(lambda now: every_n_in_office_hours(900, nowfun=now, app=ns.app), pairs())


def test_custom_subclass():
    celery_out, compat_out = both(custom_business_hours)
    assert compat_out == celery_out


@pytest.mark.parametrize("event", ["sunrise", "sunset", "solar_noon", "dawn_civil", "dusk_astronomical"])
@pytest.mark.parametrize("place", [(52.52, 13.405), (-33.87, 151.21), (78.22, 15.65)], ids=str)
def test_solar(event, place):
    def program(ns):
        grid = pairs()[::5]
        return probe(lambda now: ns.solar(event, *place, nowfun=now, app=ns.app), grid)

    celery_out, compat_out = both(program)
    assert [c[0] for c in compat_out] == [c[0] for c in celery_out]
    for (_, c_next, c_rem), (_, o_next, o_rem) in zip(celery_out, compat_out, strict=True):
        assert abs(c_next - o_next) < 1e-3 and abs(c_rem - o_rem) < 1e-3


def test_django_celery_beat_tzaware_crontab_and_clocked():
    from django_celery_beat.clockedschedule import clocked as dcb_clocked
    from django_celery_beat.tzcrontab import TzAwareCrontab as DcbCrontab

    from compat.schedules import TzAwareCrontab, clocked

    outs = []
    for make in (DcbCrontab, TzAwareCrontab):
        results = []
        for last, now in pairs()[::3]:
            sched = make(minute="0", hour="9", day_of_week="mon-fri", tz=NEW_YORK)
            sched.nowfun = clock(now.astimezone(NEW_YORK))
            due, nxt = sched.is_due(last)
            results.append(
                (bool(due), round(nxt, 6), round(sched.remaining_estimate(last).total_seconds(), 6))
            )
        outs.append(results)
    assert outs[1] == outs[0]

    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for now in (at - timedelta(seconds=5), at, at + timedelta(days=3)):
        ours, theirs = clocked(at, nowfun=clock(now)), dcb_clocked(at, nowfun=clock(now))
        assert tuple(ours.is_due(None)) == tuple(theirs.is_due(None))


@pytest.mark.parametrize(
    "spec", [{"minute": 30, "hour": 2}, {"minute": "*/20"}, {"minute": 0, "hour": "1-3"}]
)
def test_crontab_across_dst_changes(spec):
    """Last runs and clocks on both sides of Berlin's 2026 spring-forward and fall-back nights."""
    edges = [datetime(2026, 3, 29, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 0, tzinfo=UTC)]
    grid = [
        ((e + timedelta(minutes=a)).astimezone(BERLIN), (e + timedelta(minutes=a + b)).astimezone(BERLIN))
        for e in edges
        for a in (0, 29, 45, 61, 90)
        for b in (0, 15, 40, 75, 200)
    ]

    def program(ns):
        return probe(lambda now: ns.crontab(**spec, nowfun=now, app=ns.app), grid)

    celery_out, compat_out = both(program, "Europe/Berlin")
    assert compat_out == celery_out

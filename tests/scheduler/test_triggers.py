"""Triggers: cron numbering (0 and 7 are Sunday), ranges, steps, names, DST in Europe/Berlin."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from compat.schedules import crontab, schedule
from scheduler.triggers import build_trigger, describe, fire_times_between, last_fire_time, next_fire_times

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YEAR = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday


def weekdays(spec, count=4):
    trigger = build_trigger(spec, UTC)
    return [t.strftime("%a") for t in next_fire_times(trigger, NEW_YEAR, count)]


@pytest.mark.parametrize("dow", [0, 7, "0", "7", "sun", "sunday"])
def test_sunday_is_zero_and_seven(dow):
    assert weekdays(crontab(minute=0, hour=9, day_of_week=dow)) == ["Sun"] * 4


def test_apscheduler_numbering_would_have_been_monday():
    """The trap we avoid: APScheduler's own from_crontab reads 0 as Monday."""
    trigger = CronTrigger.from_crontab("0 9 * * 0", timezone=UTC)
    assert trigger.get_next_fire_time(None, NEW_YEAR).strftime("%a") == "Mon"


def test_ranges_steps_and_names():
    weekdays_only = weekdays(crontab(minute=0, hour=9, day_of_week="mon-fri"), 5)
    assert weekdays_only == ["Wed", "Thu", "Fri", "Mon", "Tue"]
    assert weekdays(crontab(minute=0, hour=9, day_of_week="fri-mon"), 4) == ["Fri", "Sat", "Sun", "Mon"]
    assert weekdays(crontab(minute=0, hour=0, day_of_week="*/2"), 4) == ["Thu", "Sat", "Sun", "Tue"]
    quarter = build_trigger(crontab(minute="*/15", hour="9-10"), UTC)
    times = [t.strftime("%H:%M") for t in next_fire_times(quarter, NEW_YEAR, 9)]
    assert times == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "09:00"]


def test_interval_is_anchored_to_the_epoch_so_all_daemons_agree():
    trigger = build_trigger(schedule(5), BERLIN)
    first = next_fire_times(trigger, datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC), 2)
    assert [t.astimezone(UTC).second for t in first] == [5, 10]
    assert describe(trigger) == "every 5s"


def daily_0230(start, days):
    trigger = build_trigger(crontab(minute=30, hour=2), BERLIN)
    return next_fire_times(trigger, start, days)


def test_dst_spring_forward_fires_once():
    """2025-03-30: 02:30 does not exist in Berlin; the job still runs exactly once that day."""
    runs = daily_0230(datetime(2025, 3, 28, tzinfo=BERLIN), 5)
    days = [t.astimezone(BERLIN).date().isoformat() for t in runs]
    assert days == ["2025-03-28", "2025-03-29", "2025-03-30", "2025-03-31", "2025-04-01"]
    utc_times = [t.astimezone(UTC).strftime("%H:%M") for t in runs]
    assert utc_times == ["01:30", "01:30", "01:30", "00:30", "00:30"]


def test_dst_fall_back_fires_once():
    """2025-10-26: 02:30 happens twice in Berlin; a daily job fires on the first only."""
    runs = daily_0230(datetime(2025, 10, 24, tzinfo=BERLIN), 5)
    days = [t.astimezone(BERLIN).date().isoformat() for t in runs]
    assert days == ["2025-10-24", "2025-10-25", "2025-10-26", "2025-10-27", "2025-10-28"]
    assert len({t.astimezone(UTC) for t in runs}) == 5
    assert all(t.astimezone(BERLIN).strftime("%H:%M") == "02:30" for t in runs)


def test_every_hour_still_runs_in_both_repeated_hours():
    trigger = build_trigger(crontab(minute=0), BERLIN)
    runs = next_fire_times(trigger, datetime(2025, 10, 26, 0, 30, tzinfo=BERLIN), 5)
    utc_times = [t.astimezone(UTC).strftime("%H:%M") for t in runs]
    assert utc_times == ["23:00", "00:00", "01:00", "02:00", "03:00"]


def test_fire_times_between_and_last_fire_time():
    trigger = build_trigger(schedule(1), UTC)
    after = datetime(2025, 1, 1, tzinfo=UTC)
    times, more = fire_times_between(trigger, after, after.replace(second=5))
    assert [t.second for t in times] == [1, 2, 3, 4, 5] and not more
    times, more = fire_times_between(trigger, after, after.replace(hour=5), limit=10)
    assert len(times) == 10 and more
    assert last_fire_time(trigger, after, after.replace(hour=5)) == after.replace(hour=5)
    leap = build_trigger(crontab(minute=0, hour=0, day_of_month=29, month_of_year=2), UTC)
    assert last_fire_time(
        leap, datetime(2020, 3, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    ) == datetime(2024, 2, 29, tzinfo=UTC)

"""The database schedule models: django-celery-beat's rules (one schedule kind, clocked is one-off, JSON
fields) and change tracking through ``PeriodicTasks.last_update``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from compat.contrib.django.beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    get_or_create_schedule,
)
from compat.schedules import TzAwareCrontab, crontab, schedule

pytestmark = pytest.mark.django_db


def test_every_save_and_delete_moves_last_update():
    interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)
    first = PeriodicTasks.last_change()
    assert first is not None
    task = PeriodicTask.objects.create(name="t", task="a.b", interval=interval)
    second = PeriodicTasks.last_change()
    task.enabled = False
    task.save()
    third = PeriodicTasks.last_change()
    task.delete()
    assert first < second < third < PeriodicTasks.last_change()


def test_a_disabled_task_forgets_its_last_run():
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    task = PeriodicTask.objects.create(name="t", task="a.b", interval=interval)
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=datetime(2026, 1, 1, tzinfo=UTC))
    task.refresh_from_db()
    task.enabled = False
    task.save()
    task.refresh_from_db()
    assert task.last_run_at is None


def test_exactly_one_schedule_and_clocked_is_one_off():
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    cron = CrontabSchedule.objects.create(minute="0")
    with pytest.raises(ValidationError, match="must be set"):
        PeriodicTask(name="none", task="a.b").save()
    with pytest.raises(ValidationError):
        PeriodicTask(name="two", task="a.b", interval=interval, crontab=cron).save()
    clock = ClockedSchedule.objects.create(clocked_time=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="clocked must be one off"):
        PeriodicTask(name="clk", task="a.b", clocked=clock).save()
    with pytest.raises(ValidationError, match="Only one can be set"):
        PeriodicTask(
            name="exp",
            task="a.b",
            interval=interval,
            expire_seconds=5,
            expires=datetime(2030, 1, 1, tzinfo=UTC),
        ).save()
    assert not PeriodicTask.objects.exists()


@pytest.mark.parametrize("field, value", [("args", "[1,"), ("args", '{"a": 1}'), ("kwargs", "[1]")])
def test_clean_refuses_bad_json(field, value):
    task = PeriodicTask(name="t", task="a.b", **{field: value})
    with pytest.raises(ValidationError) as info:
        task.clean()
    assert field in info.value.message_dict


def test_crontab_fields_and_timezone_are_validated():
    with pytest.raises(ValidationError):
        CrontabSchedule(minute="61", timezone="UTC").full_clean()
    with pytest.raises(ValidationError):
        CrontabSchedule(minute="0", timezone="Mars/Olympus").full_clean()


def test_schedules_round_trip_through_rows():
    kind, row = get_or_create_schedule(crontab(minute="*/5", hour="9-17"))
    assert kind == "crontab" and isinstance(row.schedule, TzAwareCrontab)
    assert row.schedule == TzAwareCrontab(minute="*/5", hour="9-17", tz=row.zone)
    assert row.human_readable.startswith("Every 5 minutes")
    assert get_or_create_schedule(crontab(minute="*/5", hour="9-17"))[1].pk == row.pk  # reused
    kind, row = get_or_create_schedule(schedule(90))
    assert (kind, row.every, row.period, row.schedule) == ("interval", 90, "seconds", schedule(90))


def test_a_crontab_of_lists_is_stored_as_cron_text():
    """Regression: ``crontab(minute=[0, 30])`` was stored as "[0, 30]", a row no parser reads."""
    kind, row = get_or_create_schedule(crontab(minute=[0, 30], hour=range(8, 10), day_of_week=1))
    row.refresh_from_db()
    assert (row.minute, row.hour, row.day_of_week) == ("0,30", "8,9", "1")
    assert row.schedule.fields() == crontab(minute=[0, 30], hour=[8, 9], day_of_week=1).fields()


def test_blank_headers_are_saved_as_an_empty_object():
    """django-celery-beat turns blank headers into NULL, which its NOT NULL column refuses."""
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    task = PeriodicTask.objects.create(name="t", task="a.b", interval=interval, headers="")
    task.refresh_from_db()
    assert task.headers == "{}"

"""The database source: rows become entries with django-celery-beat's semantics, edits are noticed, bad rows
are logged once and skipped, and the row is the run ledger (real database, real Redis)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from compat.contrib.django.beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)
from compat.schedules import crontab
from scheduler.daemon import Daemon
from scheduler.database import DatabaseSource
from scheduler.sources import beat_entries
from scheduler.triggers import has_timetable
from threads.celery import app

pytestmark = pytest.mark.django_db
TASK = "threads.tasks.batch_update_counters"


def every(seconds: int) -> IntervalSchedule:
    return IntervalSchedule.objects.create(every=seconds, period="seconds")


def test_rows_become_entries_like_django_celery_beats():
    PeriodicTask.objects.create(
        name="iv",
        task=TASK,
        interval=every(10),
        args="[1]",
        kwargs='{"a": 2}',
        queue="q",
        priority=3,
        headers='{"h": 1}',
        expire_seconds=30,
    )
    cron = CrontabSchedule.objects.create(minute="0", hour="9", timezone="America/New_York")
    PeriodicTask.objects.create(name="cr", task=TASK, crontab=cron)
    at = ClockedSchedule.objects.create(clocked_time=datetime(2030, 1, 1, tzinfo=UTC))
    PeriodicTask.objects.create(name="once", task=TASK, clocked=at, one_off=True)
    PeriodicTask.objects.create(name="off", task=TASK, interval=every(5), enabled=False)

    entries = {e.name: e for e in DatabaseSource(app).refresh()}
    assert set(entries) == {"iv", "cr", "once"}
    iv = entries["iv"]
    assert (iv.task, iv.args, iv.kwargs) == (TASK, (1,), {"a": 2})
    assert iv.options == {
        "queue": "q",
        "priority": 3,
        "expires": 30,
        "headers": {"h": 1, "periodic_task_name": "iv"},
    }
    assert not has_timetable(iv.schedule) and iv.schedule.run_every == timedelta(
        seconds=10
    )  # from the last run
    assert has_timetable(entries["cr"].schedule) and entries["cr"].schedule.zone == ZoneInfo(
        "America/New_York"
    )
    assert not has_timetable(entries["once"].schedule) and entries["once"].store.one_off


def test_bad_rows_are_logged_once_with_their_id_and_skipped(caplog):
    good = PeriodicTask.objects.create(name="good", task=TASK, interval=every(5))
    unknown = PeriodicTask.objects.create(name="typo", task="threads.tasks.no_such_task", interval=every(5))
    broken = PeriodicTask.objects.create(name="json", task=TASK, interval=every(5), args="[1,")
    cron = CrontabSchedule.objects.create(minute="0")
    bad_cron = PeriodicTask.objects.create(name="cron", task=TASK, crontab=cron)
    CrontabSchedule.objects.filter(pk=cron.pk).update(minute="99")  # raw edit: no validation ran
    source = DatabaseSource(app)
    with caplog.at_level(logging.ERROR, logger="scheduler.database"):
        assert [e.name for e in source.refresh()] == ["good"]
        PeriodicTasks.update_changed()
        assert [e.name for e in source.refresh()] == ["good"]  # read again: not logged again
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    for row, words in (
        (unknown, "unknown task"),
        (broken, "args is not valid JSON"),
        (bad_cron, "invalid crontab"),
    ):
        assert any(f"periodic task {row.pk} " in line and words in line for line in lines), (words, lines)
    assert good.pk


def test_changes_are_noticed_and_nothing_else_reloads():
    source = DatabaseSource(app)
    assert source.refresh() == []
    assert source.refresh() is None  # nothing changed
    task = PeriodicTask.objects.create(name="a", task=TASK, interval=every(5))
    assert [e.name for e in source.refresh()] == ["a"]
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=datetime.now(UTC))  # the daemon's own write
    assert source.refresh() is None
    task.refresh_from_db()
    task.enabled = False
    task.save()
    assert source.refresh() == []
    PeriodicTask.objects.bulk_create([PeriodicTask(name="bulk", task=TASK, interval=every(7))])  # no signal
    assert [e.name for e in source.refresh()] == ["bulk"]


def test_beat_schedule_is_synced_into_rows_by_name():
    settings = beat_entries(
        {
            "nightly": {
                "task": TASK,
                "schedule": crontab(minute=0, hour=3),
                "args": [1],
                "options": {"queue": "q"},
            },
            "fast": {"task": TASK, "schedule": 5.0, "options": {"expires": 4}},
        }
    )
    source = DatabaseSource(app)
    assert source.sync(settings) == []
    PeriodicTask.objects.filter(name="nightly").update(args="[99]")
    source.sync(settings)  # settings win, as in django-celery-beat
    nightly, fast = PeriodicTask.objects.get(name="nightly"), PeriodicTask.objects.get(name="fast")
    assert nightly.args == "[1]" and nightly.queue == "q" and nightly.crontab.hour == "3"
    assert fast.interval.every == 5 and fast.expire_seconds == 4
    assert PeriodicTask.objects.count() == 2


class Clock:
    def __init__(self, monkeypatch):
        self.now = datetime.now(UTC)
        monkeypatch.setattr("scheduler.database._utc_now", lambda: self.now)

    def at(self, moment):
        self.now = moment
        return moment


def test_the_row_is_the_ledger_and_a_one_off_disables_itself(redis_client, redis_namespace, monkeypatch):
    clock = Clock(monkeypatch)
    PeriodicTask.objects.create(name="once", task=TASK, interval=every(1), one_off=True)
    sent = []
    source = DatabaseSource(app)
    daemons = [
        Daemon(
            [],
            lambda name, **kw: sent.append(kw),
            redis_client,
            UTC,
            f"{redis_namespace}s",
            3,
            sources=[source],
        )
        for _ in range(2)
    ]
    a, b = daemons
    assert a.lease.acquire()
    row = PeriodicTask.objects.get(name="once")
    later = row.date_changed + timedelta(seconds=2)  # never run: counted from its last change
    assert a.fire_is_due("once", clock.at(row.date_changed)) is None
    assert b.fire_is_due("once", clock.at(later)) is None  # b is standby
    assert a.fire_is_due("once", later) == later
    assert len(sent) == 1 and sent[0]["headers"]["periodic_task_name"] == "once"
    row.refresh_from_db()
    assert (row.enabled, row.total_run_count, row.last_run_at) == (False, 0, None)  # beat's one-off end state
    assert a.fire_is_due("once", clock.at(later + timedelta(seconds=5))) is None and len(sent) == 1


def test_runs_are_recorded_on_the_row(redis_client, redis_namespace, monkeypatch):
    clock = Clock(monkeypatch)
    task = PeriodicTask.objects.create(name="iv", task=TASK, interval=every(2))
    sent = []
    daemon = Daemon(
        [],
        lambda name, **kw: sent.append(kw),
        redis_client,
        UTC,
        f"{redis_namespace}s",
        3,
        sources=[DatabaseSource(app)],
    )
    assert daemon.lease.acquire()
    start = task.date_changed
    fired = [daemon.fire_is_due("iv", clock.at(start + timedelta(seconds=s))) for s in (1, 2, 3, 4, 5, 6)]
    assert fired == [
        None,
        start + timedelta(seconds=2),
        None,
        start + timedelta(seconds=4),
        None,
        start + timedelta(seconds=6),
    ]
    task.refresh_from_db()
    assert task.total_run_count == 3 and task.last_run_at == start + timedelta(seconds=6)
    assert len({kw["task_id"] for kw in sent}) == 3


def test_a_crontab_row_catches_up_after_downtime_by_its_misfire_policy(redis_client, redis_namespace):
    cron = CrontabSchedule.objects.create(minute="*", timezone="UTC")
    task = PeriodicTask.objects.create(name="minutely", task=TASK, crontab=cron)
    down_since = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=down_since, total_run_count=7)
    sent = []
    daemon = Daemon(
        [],
        lambda name, **kw: sent.append(kw),
        redis_client,
        UTC,
        f"{redis_namespace}s",
        3,
        sources=[DatabaseSource(app)],
    )
    assert daemon.lease.acquire()
    daemon.catch_up()
    assert len(sent) == 1  # 180 missed minutes, older than the 60 s grace: coalesced into one run
    task.refresh_from_db()
    assert task.total_run_count == 8
    assert datetime.now(UTC) - task.last_run_at < timedelta(minutes=1) and task.last_run_at.second == 0


def test_a_row_without_a_schedule_is_a_bad_row(caplog):
    task = PeriodicTask.objects.create(name="lost", task=TASK, interval=every(5))
    PeriodicTask.objects.filter(pk=task.pk).update(interval=None)  # raw: its schedule row is gone
    with caplog.at_level(logging.ERROR, logger="scheduler.database"):
        assert DatabaseSource(app).refresh() == []
    assert f"periodic task {task.pk} ('lost'): needs exactly one of interval" in caplog.text


def test_a_hostile_row_does_not_hide_the_others(caplog):
    """Regression: an interval too long for a timedelta raised out of the load, so no row was scheduled."""
    PeriodicTask.objects.create(name="ok", task=TASK, interval=every(5))
    huge = IntervalSchedule.objects.create(every=1, period="days")
    IntervalSchedule.objects.filter(pk=huge.pk).update(every=10**9)  # raw: past timedelta's range
    task = PeriodicTask.objects.create(name="huge", task=TASK, interval=huge)
    with caplog.at_level(logging.ERROR, logger="scheduler.database"):
        assert [e.name for e in DatabaseSource(app).refresh()] == ["ok"]
    assert f"periodic task {task.pk} ('huge'): invalid interval schedule" in caplog.text

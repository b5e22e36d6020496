"""Entries asked ``is_due`` (a user's ``BaseSchedule`` subclass, ``relative=True``, ``nowfun``): once per run
across daemons, beat's timing (the next run counts from the last one), on a real Redis."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

from compat.schedules import BaseSchedule, crontab, schedstate, schedule
from scheduler.cli import list_entries
from scheduler.daemon import Daemon
from scheduler.sources import beat_entries
from scheduler.triggers import has_timetable


class every_other_run(BaseSchedule):  # noqa: N801 - named like the Celery subclasses it stands for
    """Due ``seconds`` after the last run, reported through ``is_due`` only (no ``remaining_estimate``)."""

    def __init__(self, seconds: float, clock) -> None:
        super().__init__(nowfun=clock)
        self.seconds = seconds
        self.asked: list[datetime] = []

    def is_due(self, last_run_at):
        self.asked.append(last_run_at)
        left = (last_run_at + timedelta(seconds=self.seconds) - self.now()).total_seconds()
        return schedstate(True, self.seconds) if left <= 0 else schedstate(False, left)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


def daemons(redis_client, prefix, spec, count=2):
    sent: list[tuple] = []
    entries = beat_entries({"custom": {"task": "t.custom", "schedule": spec, "args": [1]}})
    made = [
        Daemon(entries, lambda name, **kw: sent.append((name, kw)), redis_client, UTC, f"{prefix}s", 3)
        for _ in range(count)
    ]
    return made, sent


def test_a_subclass_is_asked_is_due_and_each_run_is_enqueued_once(redis_client, redis_namespace):
    clock = Clock()
    spec = every_other_run(10, clock)
    (a, b), sent = daemons(redis_client, redis_namespace, spec)
    assert not has_timetable(spec) and "custom" not in a.triggers
    assert a.lease.acquire()
    assert a.fire_is_due("custom", clock.now) is None  # first sight: the last run is now, as in beat
    clock.now += timedelta(seconds=9)
    assert a.fire_is_due("custom", clock.now) is None
    clock.now += timedelta(seconds=1)
    assert a.fire_is_due("custom", clock.now) == clock.now
    assert a.fire_is_due("custom", clock.now) is None  # asked again at once: counts from this run
    assert [name for name, _ in sent] == ["t.custom"] and sent[0][1]["args"] == [1]
    assert spec.asked[-1] == clock.now

    # b takes over while a's claim of the next run exists but a died before recording it
    clock.now += timedelta(seconds=10)
    last = a.ledger.last("custom")
    a.ledger.claim_after("custom", last, "dead-leader-task", clock.now)
    redis_client.delete(a.lease.key)
    assert b.lease.acquire()
    assert b.fire_is_due("custom", clock.now) is None  # already enqueued by a: not again
    assert a.ledger.last("custom") == clock.now  # but the last run moved, so the chain goes on
    clock.now += timedelta(seconds=10)
    assert b.fire_is_due("custom", clock.now) == clock.now
    assert len(sent) == 2
    ids = {kw["task_id"] for _, kw in sent}
    assert len(ids) == 2


def test_a_standby_never_fires_an_is_due_entry(redis_client, redis_namespace):
    clock = Clock()
    (a, b), sent = daemons(redis_client, redis_namespace, every_other_run(1, clock))
    assert a.lease.acquire()
    a.fire_is_due("custom", clock.now)
    clock.now += timedelta(seconds=5)
    assert b.fire_is_due("custom", clock.now) is None and sent == []
    assert a.fire_is_due("custom", clock.now) == clock.now


def test_relative_and_nowfun_schedules_are_asked_is_due():
    entries = beat_entries(
        {
            "hourly": {"task": "t", "schedule": 3600, "relative": True},
            "with_clock": {"task": "t", "schedule": crontab(minute=0, nowfun=lambda: datetime.now(UTC))},
            "plain": {"task": "t", "schedule": schedule(5)},
        }
    )
    kinds = {e.name: has_timetable(e.schedule) for e in entries}
    assert kinds == {"hourly": False, "with_clock": False, "plain": True}
    assert entries[0].schedule.relative


def test_list_estimates_the_next_runs_of_an_is_due_entry():
    clock = Clock()
    entries = beat_entries({"custom": {"task": "t.custom", "schedule": schedule(30, relative=True)}})
    out = io.StringIO()
    list_entries(entries, UTC, out, now=clock.now)
    text = out.getvalue()
    assert "trigger=is_due <freq: 0:00:30>" in text and text.count("T") >= 3


def test_the_poll_fires_an_interval_on_time_not_a_poll_late(redis_client, redis_namespace):
    """Regression: a 1 s interval asked every POLL_SECONDS ran every 1.5 s when the poll was 0.5 s."""
    import time as clock

    from scheduler.isdue import POLL_SECONDS

    sent = []
    entries = beat_entries(
        {"fast": {"task": "t.fast", "schedule": schedule(1, nowfun=lambda: datetime.now(UTC))}}
    )
    d = Daemon(
        entries,
        lambda name, **kw: sent.append(clock.monotonic()),
        redis_client,
        UTC,
        f"{redis_namespace}s",
        30,
    )
    assert d.lease.acquire()
    start = clock.monotonic()
    for tick in range(int(10 / POLL_SECONDS)):  # on a fixed beat, as APScheduler's interval job runs
        clock.sleep(max(0.0, start + tick * POLL_SECONDS - clock.monotonic()))
        d.poll_due()
        if len(sent) == 4:
            break
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert len(sent) == 4 and all(0.95 < gap < 1.35 for gap in gaps), gaps  # with a 0.5 s poll: 1.5 s


def test_a_failing_is_due_is_logged_once_and_retried(redis_client, redis_namespace, caplog, monkeypatch):
    class broken(BaseSchedule):  # noqa: N801
        calls = 0

        def is_due(self, last_run_at):
            broken.calls += 1
            raise RuntimeError("the user's schedule has a bug")

    entries = beat_entries({"bad": {"task": "t", "schedule": broken()}})
    d = Daemon(entries, lambda *a, **k: None, redis_client, UTC, f"{redis_namespace}s", 30)
    assert d.lease.acquire()
    for _ in range(3):
        d._next_check.clear()  # as if 5 s had passed each time
        with caplog.at_level(logging.ERROR, logger="scheduler"):
            d.poll_due()
    assert broken.calls == 3
    assert len([r for r in caplog.records if "is_due check failed" in r.getMessage()]) == 1

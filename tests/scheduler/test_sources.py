"""Schedule sources: Celery beat entries and periodiq actors, validated with clear errors."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from periodiq import cron

from compat.schedules import crontab, schedule
from scheduler.sources import ScheduleError, actor_entries, beat_entries, merge


def test_beat_formats():
    entries = beat_entries(
        {
            "seconds": {
                "task": "a.b",
                "schedule": 30.0,
                "args": (1,),
                "kwargs": {"x": 2},
                "options": {"queue": "q", "expires": 10},
            },
            "delta": {"task": "a.c", "schedule": timedelta(minutes=5)},
            "cron": {
                "task": "a.d",
                "schedule": crontab(minute=0, hour="*/3"),
                "misfire_grace_time": 5,
                "coalesce": False,
            },
            "sched": {"task": "a.e", "schedule": schedule(10)},
        }
    )
    by_name = {e.name: e for e in entries}
    assert by_name["seconds"].schedule == schedule(30)
    assert by_name["seconds"].args == (1,) and by_name["seconds"].kwargs == {"x": 2}
    assert by_name["seconds"].options == {"queue": "q", "expires": 10}
    assert by_name["delta"].schedule == schedule(300)
    assert by_name["cron"].policy.grace == 5 and by_name["cron"].policy.coalesce is False
    assert by_name["sched"].policy.grace == 60 and by_name["sched"].policy.coalesce is True


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"schedule": 5}, "beat entry 'bad': 'task' must be a task name"),
        ({"task": "t"}, "beat entry 'bad': missing 'schedule'"),
        ({"task": "t", "schedule": "every minute"}, "beat entry 'bad': unsupported schedule 'every minute'"),
        ({"task": "t", "schedule": 5, "args": "1,2"}, "beat entry 'bad': 'args' must be a list or tuple"),
        ({"task": "t", "schedule": 5, "kwargs": [1]}, "beat entry 'bad': 'kwargs' must be a dict"),
        ({"task": "t", "schedule": 5, "shedule": 5}, "beat entry 'bad': unknown keys ['shedule']"),
        ({"task": "t", "schedule": -1}, "beat entry 'bad': run_every must be positive"),
        ({"task": "t", "schedule": 5, "misfire_grace_time": "1m"}, "misfire_grace_time must be seconds"),
        ("t", "beat entry 'bad': expected a dict"),
    ],
)
def test_bad_entries_name_the_entry(spec, message):
    with pytest.raises(ScheduleError) as info:
        beat_entries({"ok": {"task": "t", "schedule": 1}, "bad": spec})
    assert message in str(info.value)


def actor(name, spec, queue="default"):
    options = {"periodic": cron(spec)} if spec else {}
    return SimpleNamespace(actor_name=name, queue_name=queue, options=options)


def test_periodiq_actors_become_entries_with_sunday_fixed():
    entries = actor_entries(
        [
            actor("app.weekly", "0 9 * * 0"),
            actor("app.plain", None),
            actor("app.nightly", "@daily", queue="low"),
        ]
    )
    by_name = {e.name: e for e in entries}
    assert set(by_name) == {"app.weekly", "app.nightly"}
    (weekly,) = by_name["app.weekly"].schedule
    assert weekly.day_of_week == {0} and weekly.hour == {9} and weekly.minute == {0}
    assert by_name["app.nightly"].options == {"queue": "low"}
    assert by_name["app.weekly"].source == "periodiq"


def test_periodiq_day_of_month_or_day_of_week():
    (entry,) = actor_entries([actor("app.x", "0 0 13 * fri")])
    assert len(entry.schedule) == 2  # cron: the 13th OR a Friday


def test_duplicate_names_are_an_error():
    a = beat_entries({"x": {"task": "t", "schedule": 1}})
    with pytest.raises(ScheduleError, match="'x' is defined twice"):
        merge(a, a)


def test_app_entries_merge_beat_schedule_and_broker_actors():
    import dramatiq
    from dramatiq.brokers.stub import StubBroker
    from periodiq import PeriodiqMiddleware

    from scheduler.sources import app_entries

    broker = StubBroker(middleware=[PeriodiqMiddleware()])
    dramatiq.actor(lambda: None, actor_name="app.sunday", broker=broker, periodic=cron("0 9 * * sun"))
    dramatiq.actor(lambda: None, actor_name="app.plain", broker=broker)
    app = SimpleNamespace(
        conf=SimpleNamespace(beat_schedule={"flush": {"task": "app.flush", "schedule": 5}}),
        broker=broker,
        tasks={},
    )
    entries = {e.name: e for e in app_entries(app)}
    assert set(entries) == {"flush", "app.sunday"}
    assert entries["app.sunday"].schedule[0].day_of_week == {0}


def test_the_scheduler_and_the_schedule_api_import_without_django():
    import subprocess
    import sys

    code = (
        "import sys, scheduler.cli, scheduler.daemon, compat.schedules; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "."},
    )
    assert done.stdout.strip() == "False"

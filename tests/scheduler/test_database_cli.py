"""Selecting the database scheduler: the setting, ``-S``, ``--list`` with rows, settings entries no table can
hold, names defined twice, an unknown scheduler."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from datetime import UTC
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from compat.contrib.django.beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from compat.schedules import BaseSchedule, schedstate
from scheduler.cli import load_entries
from scheduler.daemon import Daemon
from scheduler.sources import ScheduleError
from threads.celery import app

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
TASK = "threads.tasks.batch_update_counters"


def options(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"misfire_grace_time": 60.0, "scheduler": None, **kw})


def test_list_shows_database_rows_next_to_the_default_entry():
    cron = CrontabSchedule.objects.create(minute="0", hour="4", timezone="Europe/Berlin")
    PeriodicTask.objects.create(name="nightly", task=TASK, crontab=cron)
    out = StringIO()
    call_command("scheduler", "--list", stdout=out)
    text = out.getvalue()
    assert (
        "nightly: task=threads.tasks.batch_update_counters trigger=cron[0 4 * * *] Europe/Berlin (database"
        in text
    )
    assert "batch_update_counters: task=" in text  # Threads' own entry, from memory


class every_weekday(BaseSchedule):  # noqa: N801
    def is_due(self, last_run_at):
        return schedstate(False, 60)


@override_settings(
    CELERY_BEAT_SCHEDULE={
        "custom": {"task": TASK, "schedule": every_weekday()},
        "synced": {"task": TASK, "schedule": 30},
    }
)
def test_settings_entries_are_synced_and_the_rest_run_from_settings(caplog):
    with caplog.at_level(logging.WARNING, logger="scheduler.database"):
        static, sources = load_entries(app, options())
    assert [e.name for e in static] == ["custom"] and "no table" in caplog.text
    assert [e.name for e in sources[0].entries] == ["synced"]
    assert PeriodicTask.objects.get(name="synced").interval.every == 30


def test_a_row_named_like_a_settings_entry_is_skipped_with_an_error(redis_client, redis_namespace, caplog):
    """Also a regression: a daemon built on a source already loaded (as ``run`` does) got no rows at all."""
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    PeriodicTask.objects.create(name="batch_update_counters", task=TASK, interval=interval)
    from threads.management.commands.scheduler import default_entries

    static, sources = load_entries(app, options(), default_entries(app))
    with caplog.at_level(logging.ERROR, logger="scheduler"):
        daemon = Daemon(
            static,
            lambda *a, **k: None,
            redis_client,
            app.conf.get("timezone") and __import__("zoneinfo").ZoneInfo("UTC"),
            f"{redis_namespace}s",
            3,
            sources=sources,
        )
    assert daemon.entries["batch_update_counters"].source == "threads default"
    assert len(daemon.entries) == 1
    assert "defined twice" in caplog.text and "batch_update_counters" in caplog.text


def test_unknown_scheduler_names_are_refused():
    with pytest.raises(ScheduleError, match="unknown beat_scheduler 'myproj.schedulers:Custom'"):
        load_entries(app, options(scheduler="myproj.schedulers:Custom"))
    with override_settings(CELERY_BEAT_SCHEDULER="celery.beat:PersistentScheduler"):
        static, sources = load_entries(app, options())
    assert sources == []


def test_a_daemon_on_a_loaded_source_has_the_rows(redis_client, redis_namespace):
    interval = IntervalSchedule.objects.create(every=5, period="seconds")
    PeriodicTask.objects.create(name="row", task=TASK, interval=interval)
    static, sources = load_entries(app, options())  # loads the rows once, as ``run`` does
    daemon = Daemon(
        static, lambda *a, **k: None, redis_client, UTC, f"{redis_namespace}s", 3, sources=sources
    )
    assert set(daemon.entries) == {"row"}


def run_module(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db(transaction=True)
def test_python_m_scheduler_reads_the_rows_with_django_settings():
    from tests.e2e.conftest import database_url

    cron = CrontabSchedule.objects.create(minute="30", hour="6", timezone="Asia/Tokyo")
    PeriodicTask.objects.create(name="tokyo", task=TASK, crontab=cron)
    done = run_module(
        "--app",
        "threads.celery:app",
        "-S",
        "django",
        "--list",
        DJANGO_SETTINGS_MODULE="threads.settings",
        DATABASE_URL=database_url(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        "tokyo: task=threads.tasks.batch_update_counters trigger=cron[30 6 * * *] Asia/Tokyo" in done.stdout
    )


def test_python_m_scheduler_without_django_settings_says_what_is_missing():
    done = run_module("--app", "tests.scheduler.sched_app:app", "-S", "django", "--list")
    assert done.returncode == 2 and "set DJANGO_SETTINGS_MODULE" in done.stderr
    assert "Traceback" not in done.stderr

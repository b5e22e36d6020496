"""``compat.contrib.django.beat`` owns django-celery-beat's tables exactly: same columns, types and
constraints, rows written by either app read back by the other, and our migration safe on a database
django-celery-beat already migrated (also an old one).  Each step runs in its own process with its own
settings, on a scratch database (PostgreSQL when ``DATABASE_URL`` names one, else SQLite).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scratch_db import scratch_database

ROOT = Path(__file__).resolve().parents[2]
DCB = "tests.compat.beat_layout.dcb_settings"
OURS = "tests.compat.beat_layout.our_settings"


def probe(settings: str, url: str, *args: str):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "LAYOUT_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "tests.compat.beat_layout.probe", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{settings} {args}: {done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def db_url(tmp_path):
    with scratch_database(tmp_path, "layout") as url:
        yield url


@pytest.fixture
def other_db_url(tmp_path):
    with scratch_database(tmp_path, "layout2") as url:
        yield url


def test_a_new_database_gets_django_celery_beats_layout(db_url, other_db_url):
    probe(DCB, db_url, "migrate")
    probe(OURS, other_db_url, "migrate")
    theirs, ours = probe(DCB, db_url, "columns"), probe(OURS, other_db_url, "columns")
    assert len(theirs) == 6 and set(ours) == set(theirs)
    for table in theirs:
        assert ours[table]["columns"] == theirs[table]["columns"], table
        assert ours[table]["constraints"] == theirs[table]["constraints"], table


def test_rows_cross_between_the_two_apps_on_one_database(db_url):
    probe(DCB, db_url, "migrate")
    probe(DCB, db_url, "create", "theirs")
    before = probe(DCB, db_url, "columns")

    probe(OURS, db_url, "migrate")  # the tables exist: nothing fails, nothing changes
    assert probe(OURS, db_url, "columns") == before
    read_by_us = probe(OURS, db_url, "read")
    assert read_by_us == probe(DCB, db_url, "read")
    by_name = {row["name"]: row for row in read_by_us}
    assert (
        by_name["theirs-interval"]["args"] == [1, "a"] and by_name["theirs-interval"]["expire_seconds"] == 30
    )
    assert by_name["theirs-crontab"]["schedule"][-1] == "America/New_York"
    assert by_name["theirs-clocked"]["one_off"] and not by_name["theirs-solar"]["enabled"]

    probe(OURS, db_url, "create", "ours")
    rows = probe(DCB, db_url, "read")  # django-celery-beat's models read what ours wrote
    assert [r["name"] for r in rows] == sorted(
        f"{who}-{kind}" for who in ("ours", "theirs") for kind in ("clocked", "crontab", "interval", "solar")
    )
    strip = lambda r: {k: v for k, v in r.items() if k != "name"}  # noqa: E731
    mine = {r["name"].split("-")[1]: strip(r) for r in rows if r["name"].startswith("ours")}
    assert mine == {r["name"].split("-")[1]: strip(r) for r in rows if r["name"].startswith("theirs")}


def test_rows_django_celery_beat_wrote_are_fired_by_our_daemon(db_url, redis_url, redis_namespace):
    probe(DCB, db_url, "migrate")
    probe(DCB, db_url, "create", "theirs")
    probe(OURS, db_url, "migrate")
    time.sleep(2.1)  # the 2 s interval row, never run, is due 2 s after it was saved (beat's rule)
    result = probe(OURS, db_url, "fire", redis_url, redis_namespace.rstrip(":"))
    assert result["loaded"] == ["theirs-clocked", "theirs-crontab", "theirs-interval"]  # solar is disabled
    assert result["fired"] == ["theirs-interval"] and result["messages"] == ["theirs-interval"]
    row = next(r for r in probe(DCB, db_url, "read") if r["name"] == "theirs-interval")
    assert row["total_run_count"] == 1 and row["last_run_at"]  # and django-celery-beat sees the run


def test_an_old_django_celery_beat_database_gets_the_missing_columns(db_url):
    probe(DCB, db_url, "migrate", "django_celery_beat", "0005_add_solarschedule_events_choices")
    old = probe(DCB, db_url, "columns")
    assert "clocked_id" not in old["django_celery_beat_periodictask"]["columns"]
    probe(OURS, db_url, "migrate")
    new = probe(OURS, db_url, "columns")
    probe(OURS, db_url, "create", "ours")  # and our models work on it
    assert len(probe(OURS, db_url, "read")) == 4
    assert {"clocked_id", "expire_seconds", "headers", "priority", "description"} <= set(
        new["django_celery_beat_periodictask"]["columns"]
    )
    assert "django_celery_beat_clockedschedule" in new
    assert "timezone" in new["django_celery_beat_crontabschedule"]["columns"]

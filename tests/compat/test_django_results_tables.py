"""``compat.contrib.django.results`` owns django-celery-results' tables exactly: same columns, types,
constraints and indexes; rows written by either side read back by the other (django-celery-results' own
models and real Celery's ``django-db`` backend read ours, compat reads theirs); our migration is safe on a
database django-celery-results already migrated (also an old one). Each step runs in its own process with
its own settings, on a scratch database (PostgreSQL when ``DATABASE_URL`` names one, else SQLite).
"""

from __future__ import annotations

import json

import pytest

from tests.compat.test_django_results import drive
from tests.scratch_db import scratch_database

DCR = "tests.compat.results_project.dcr_settings"


def env_for(url: str, tmp_path) -> dict:
    import os

    from tests.compat.test_django_results import ROOT

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_")},
        "LAYOUT_DATABASE_URL": url,
        "COMPAT_TEST_BROKER": "memory://",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def db(tmp_path):
    with scratch_database(tmp_path, "rtables") as url:
        yield env_for(url, tmp_path)


@pytest.fixture
def other_db(tmp_path):
    with scratch_database(tmp_path, "rtables2") as url:
        yield env_for(url, tmp_path)


def test_a_new_database_gets_django_celery_results_layout(db, other_db):
    drive(db, "migrate", settings=DCR)
    drive(other_db, "migrate")
    theirs, ours = drive(db, "columns", settings=DCR), drive(other_db, "columns")
    assert len(theirs) == 3 and set(ours) == set(theirs)
    for table in theirs:
        assert ours[table]["columns"] == theirs[table]["columns"], table
        assert ours[table]["constraints"] == theirs[table]["constraints"], table


def test_rows_cross_between_compat_and_django_celery_results_on_one_database(db):
    drive(db, "migrate", settings=DCR)
    drive(db, "celery-write", settings=DCR)  # real Celery, through django-celery-results' backend
    before = drive(db, "columns", settings=DCR)
    drive(db, "migrate")  # the tables exist: nothing fails, nothing changes
    assert drive(db, "columns") == before

    theirs = drive(db, "read", json.dumps(["theirs-ok", "theirs-fail"]))
    assert theirs["theirs-ok"]["state"] == "SUCCESS" and theirs["theirs-ok"]["result"] == {"answer": 7}
    assert theirs["theirs-ok"]["name"] == "results.add" and theirs["theirs-ok"]["worker"] == "celery@host"
    assert theirs["theirs-ok"]["args"] == "(3, 4)" and theirs["theirs-ok"]["kwargs"] == "{'z': 1}"
    assert theirs["theirs-fail"]["state"] == "FAILURE"
    assert theirs["theirs-fail"]["result"] == ["Broken", ["theirs broke"]]
    assert "Broken: theirs broke" in theirs["theirs-fail"]["traceback"]
    assert theirs["theirs-group"] == ["theirs-ok", "theirs-fail"]

    drive(db, "write")  # compat's store writes rows; django-celery-results and Celery read them
    ours = drive(db, "celery-read", json.dumps(["ours-ok", "ours-fail", "theirs-ok"]), settings=DCR)
    assert ours["ours-ok"]["state"] == "SUCCESS" and ours["ours-ok"]["result"] == {"answer": [1, 2.5, "x"]}
    assert ours["ours-ok"]["row"] == ["SUCCESS", "results.add", "w@host", "application/json"]
    assert ours["ours-fail"]["state"] == "FAILURE"
    assert ours["ours-fail"]["result"] == ["Broken", ["ours broke"]]
    assert "Broken: ours broke" in ours["ours-fail"]["traceback"]
    assert ours["ours-group"] == ["ours-ok", "ours-fail"]
    assert ours["group_rows"] == ["ours-group", "theirs-group"]
    assert ours["theirs-ok"]["result"] == {"answer": 7}  # and theirs still reads as before


def test_an_old_django_celery_results_database_gets_the_missing_tables_and_columns(db):
    drive(db, "migrate", "django_celery_results", "0004_auto_20190516_0412", settings=DCR)
    old = drive(db, "columns", settings=DCR)
    assert set(old) == {"django_celery_results_taskresult"}
    assert "worker" not in old["django_celery_results_taskresult"]["columns"]
    drive(db, "migrate")
    new = drive(db, "columns")
    assert set(new) == {f"django_celery_results_{t}" for t in ("taskresult", "groupresult", "chordcounter")}
    assert {"worker", "date_created", "periodic_task_name", "date_started"} <= set(
        new["django_celery_results_taskresult"]["columns"]
    )
    drive(db, "write")  # and our store works on it
    read = drive(db, "read", json.dumps(["ours-ok"]))
    assert read["ours-ok"]["state"] == "SUCCESS" and read["ours-ok"]["worker"] == "w@host"


def test_the_admin_lists_filters_and_shows_results_read_only(db):
    drive(db, "migrate")
    out = drive(db, "admin")
    assert out["store"] == "DatabaseStore"
    assert out["list"] == [200, True, True]
    assert out["filtered"] == [False, True] and out["searched"] == [True, False]
    assert out["detail"] == [200, True, False]  # the traceback is shown; there is no save button
    assert out["add"] == 403 and out["post"] == 403 and out["status_after"] == "FAILURE"


def test_a_chord_fires_once_when_its_members_finish_at_the_same_instant(db):
    drive(db, "migrate")
    out = drive(db, "race", "15", "8")
    assert out["fired"] == [1] * 15  # one member per chord got the header, however they interleaved
    assert out["refired"] == 0  # a redelivered member does not fire it again
    assert out["late_claims"] == 0  # nor does a failure that comes after it fired


def test_rows_older_than_result_expires_are_deleted(db):
    drive(db, "migrate")
    out = drive(db, "expiry")
    assert out["tasks"] == ["new"] and out["groups"] == ["group-new"] and out["counters"] == ["group-new"]
    assert out["deleted"] == 2 and out["old_reads"] == "PENDING"

"""``result_backend = "django-db"`` (and ``"django-cache"``) on real worker processes and a real database.

A small Django project (``tests/compat/results_project``) on a scratch database (PostgreSQL when
``DATABASE_URL`` names one, else SQLite), a real Redis broker and ``python -m dramatiq
compat.contrib.django.worker`` (two processes, four threads each); every step runs in a process of its own
(``drive.py``), as a web process or a shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.compat.conftest import assert_no_swallowed_errors, start_worker, stop_worker
from tests.scratch_db import scratch_database

ROOT = Path(__file__).resolve().parents[2]
OURS = "tests.compat.results_project.settings"


def drive(env: dict, *args: str, settings: str = OURS) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.compat.results_project.drive", *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": settings},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(params=["django-db", "django-cache"])
def project(request, tmp_path, redis_url):
    """Env of a migrated project on its own database and broker namespace, with a worker running."""
    with scratch_database(tmp_path, "results") as url:
        namespace = f"test:{uuid.uuid4().hex[:10]}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_")},
            "LAYOUT_DATABASE_URL": url,
            "COMPAT_TEST_BROKER": redis_url,
            "COMPAT_TEST_NS": namespace,
            "COMPAT_TEST_RESULT_BACKEND": request.param,
            "RESULTS_TEST_BODY_LOG": str(tmp_path / "bodies.log"),
            "DJANGO_SETTINGS_MODULE": OURS,
            "PYTHONPATH": str(ROOT),
        }
        drive(env, "migrate")
        log = tmp_path / "worker.log"
        worker = start_worker(env, "compat.contrib.django.worker", processes=2, threads=4, log=log)
        try:
            yield env
        finally:
            stop_worker(worker)
            assert_no_swallowed_errors(log)


def test_states_results_failures_groups_and_the_status_view(project):
    out = drive(project, "basics")
    assert out["add"] == 5 and out["add_state"] == "SUCCESS"
    assert out["fail_raised"] == ["tests.compat.results_project.errors", "Broken", ["kaput"]]
    assert out["fail_state"] == "FAILURE"
    assert "tests/compat/results_project/tasks.py" in out["fail_traceback"]
    assert out["fail_traceback"].rstrip().endswith("Broken: kaput")
    assert out["flaky"] == [2, 2]
    assert "STARTED" in out["nap_states"] and out["nap_states"][-1] == "SUCCESS"
    assert out["group"] == [0, 2, 4, 6, 8]
    assert out["view_success"] == {
        "task_id": out["ids"]["add"], "status": "SUCCESS", "result": 5, "traceback": None
    }
    assert out["view_failure"]["status"] == "FAILURE" and "Broken: kaput" in out["view_failure"]["traceback"]
    assert out["view_failure"]["result"] == "Broken('kaput')"
    assert out["view_unknown"]["status"] == "PENDING"
    name, args, kwargs, has_worker, queue = out["add_extended"]
    assert name == "results.add" and kwargs is not None and has_worker
    if project["COMPAT_TEST_RESULT_BACKEND"] == "django-db":  # django-celery-results' argsrepr form
        assert args == "(2, 3)" and kwargs == "{}" and queue == "default"
    else:
        assert args == [2, 3] and kwargs == {} and queue == "default"


def test_each_chord_body_runs_exactly_once_under_concurrent_completions(project):
    out = drive(project, "chords", "6", "12")
    assert out["values"] == [sum(n * 100 + i for i in range(12)) for n in range(6)]
    bodies = Path(project["RESULTS_TEST_BODY_LOG"]).read_text().splitlines()
    assert len(bodies) == 6  # one run per chord, none twice
    assert sorted(bodies) == sorted(str(sorted(n * 100 + i for i in range(12))) for n in range(6))
    if project["COMPAT_TEST_RESULT_BACKEND"] == "django-db":
        assert out["counters"] == [0] * 6  # every ChordCounter counted down to 0


def test_a_failed_header_member_fails_the_body_once(project):
    out = drive(project, "chord-fail")
    assert out["raised"] == ["Broken", "header broke"]  # the failed parent's error, as Celery's get() raises
    assert out["state"] == "FAILURE"
    assert out["body"][0] == "ChordError" and "header broke" in out["body"][1]
    assert not Path(project["RESULTS_TEST_BODY_LOG"]).exists()  # the body never ran

"""A paperless-style project (``tests/compat/paperless_project``) runs unchanged after the import rename on
real ``rundramatiq`` workers: its ``setup_logging`` receiver configures the worker's logging, its
``worker_process_init`` receiver runs in every (recycled) worker process, and its task tracker, built
only on signals, follows each task from publish to outcome in the database."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.compat.conftest import stop_worker

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).parent / "paperless_project"
SETTINGS = "tests.compat.paperless_project.settings"

SEND = """
import json, sys
import django
django.setup()
from tests.compat.paperless_project.documents.tasks import consume_file
ids = [consume_file.delay(path).id for path in sys.argv[1:]]
print(json.dumps(ids))
"""


def test_the_project_is_celery_code_but_for_the_import_lines():
    """Every import of compat has a Celery original (``celery.signals.setup_logging``, ...), so the project
    is what a Celery project would be with ``celery`` renamed ``compat`` in its imports."""
    renamed = 0
    for path in PROJECT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(alias.name.split(".")[0] == "compat" for alias in node.names), path
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "compat":
                original = importlib.import_module("celery" + node.module[len("compat"):])
                missing = [alias.name for alias in node.names if not hasattr(original, alias.name)
                           and importlib.util.find_spec(f"{original.__name__}.{alias.name}") is None]
                assert not missing, (path, original.__name__, missing)
                renamed += 1
    assert renamed >= 5


def rows(db: Path) -> dict[str, dict]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        found = connection.execute("SELECT * FROM documents_trackedtask").fetchall()
    return {row["task_id"]: dict(row) for row in found}


@pytest.mark.timeout(240)
def test_paperless_style_tracker_logging_and_process_init_on_rundramatiq(
    redis_url, redis_namespace, tmp_path
):
    db, log = tmp_path / "paperless.sqlite3", tmp_path / "paperless.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_")},
        "DJANGO_SETTINGS_MODULE": SETTINGS, "PAPERLESS_DB": str(db), "PAPERLESS_LOG_FILE": str(log),
        "PAPERLESS_REDIS": redis_url, "PAPERLESS_NAMESPACE": f"{redis_namespace}pl", "PYTHONPATH": str(ROOT),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--run-syncdb", "-v", "0"], cwd=ROOT, env=env, check=True)
    document = tmp_path / "invoice.txt"
    document.write_text("total due forty two euros")
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "wb") as out:
        worker = subprocess.Popen([*manage, "rundramatiq", "--processes", "1"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        sent = subprocess.run([sys.executable, "-c", SEND, str(document), str(tmp_path / "missing.txt")],
                              cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        ok, missing = json.loads(sent.stdout)
        tracked = rows(db)
        assert {tracked[ok]["status"], tracked[missing]["status"]} <= {"PENDING", "STARTED", "SUCCESS",
                                                                       "FAILURE"}
        assert tracked[ok]["task_file_name"] == "invoice.txt"  # created at publish, by the sender
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tracked = rows(db)
            if tracked[ok]["date_done"] and tracked[missing]["date_done"]:
                break
            assert worker.poll() is None, worker_log.read_text()
            time.sleep(0.2)
        else:
            raise AssertionError(f"tasks not done: {tracked}\n{worker_log.read_text()[-3000:]}")
        # let the recycling after the last task finish (a SIGTERM meanwhile would be a second, cold one)
        last = tracked[missing]["worker_pid"]
        while time.monotonic() < deadline:
            lines = log.read_text().splitlines()
            recycled = any(f"lifecycle {last} worker_shutdown" in line for line in lines)
            fresh = [line for line in lines if "worker_ready" in line and f"lifecycle {last} " not in line
                     and f"lifecycle {tracked[ok]['worker_pid']} " not in line]
            if recycled and fresh:
                break
            time.sleep(0.2)
    finally:
        stop_worker(worker, timeout=60)  # SIGTERM, then SIGKILL to whatever is left of its group
    done, failed = tracked[ok], tracked[missing]
    assert (done["status"], done["result"]) == ("SUCCESS", "Success. invoice.txt has 5 words")
    assert (failed["status"], failed["result"]) == (
        "FAILURE", "ConsumerError: Cannot consume missing.txt: file not found")
    for row in (done, failed):
        assert row["date_created"] <= row["date_started"] <= row["date_done"]
    text = log.read_text()
    # the project's LOGGING formats the worker's records, and with its setup_logging receiver connected
    # compat added nothing: no handler in worker_log_format's shape, Dramatiq's own handler still there
    assert "[INFO] [paperless.consumer] Consuming invoice.txt" in text
    output = worker_log.read_text()
    assert " ready." in output and "[compat.worker] [INFO]" in output
    assert not re.search(r": (INFO|WARNING|ERROR)/Process-", output), output[-3000:]
    # worker_max_tasks_per_child=1: each task in a fresh process, each process ran worker_process_init first
    init_pids = {int(line.split("worker process ")[1].split(":")[0]) for line in text.splitlines()
                 if "database connections closed" in line}
    assert done["worker_pid"] != failed["worker_pid"]
    assert {done["worker_pid"], failed["worker_pid"]} <= init_pids
    # each recycled process went through Celery's lifecycle, in order (the supervisor's SIGTERM is warm)
    trail: dict[int, list[str]] = {}
    for line in text.splitlines():
        if "] lifecycle " in line:
            pid, *event = line.split("] lifecycle ")[1].split()
            trail.setdefault(int(pid), []).append(" ".join(event))
    for pid in (done["worker_pid"], failed["worker_pid"]):
        node = f"worker-{pid}@{socket.gethostname()}"
        assert trail[pid] == [
            "worker_process_init", f"worker_ready {node}", "worker_shutting_down SIGTERM Warm 0",
            f"worker_process_shutdown {pid} 0", "worker_shutdown",
        ]

"""Real projects' task classes run unchanged after the import rename, on real workers (issue 16).

The Celery sources are ``tests/compat/real_projects/*.py`` (saleor's export base class, DefectDojo's
``task_cls`` carrying the user, kpi's time-limit cleanup). This module renames their imports as the
migration guide says, writes them into a package of their own and starts one ``python -m dramatiq``
worker per project on the test Redis; the tests send as the projects' views do and read what a user would
check: the export row, the user each task ran as, the cleanup a time limit triggered.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import uuid
from pathlib import Path

import pytest
import redis

import compat.app
from compat.exceptions import SoftTimeLimitExceeded
from tests.helpers import wait_for

from .conftest import assert_no_swallowed_errors, start_worker, stop_worker

SOURCES = Path(__file__).parent / "real_projects"
PROJECTS = ("saleor_export", "dojo_context", "kpi_limits")
PACKAGE = "realprojects"
_RENAME = re.compile(r"^(\s*)from celery(?=[.\s])", re.MULTILINE)


def rename_imports(source: str) -> str:
    """The migration: ``from celery...`` becomes ``from compat...``; nothing else changes."""
    return _RENAME.sub(r"\1from compat", source)


@pytest.fixture(scope="module")
def projects(worker_env, tmp_path_factory):
    """The renamed projects, imported here, each with its own worker process."""
    root = tmp_path_factory.mktemp("real_projects")
    package = root / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in PROJECTS:
        source = (SOURCES / f"{name}.py").read_text()
        renamed = rename_imports(source)
        assert "from celery" not in renamed and renamed != source
        (package / f"{name}.py").write_text(renamed)
    namespace = f"{worker_env['COMPAT_TEST_NS']}:real"
    env = {**worker_env, "PYTHONPATH": f"{root}{os.pathsep}{worker_env['PYTHONPATH']}",
           "REAL_PROJECT_NS": namespace, "COMPAT_TEST_NS": namespace}
    saved_env = {key: os.environ.get(key) for key in ("REAL_PROJECT_NS",)}
    os.environ["REAL_PROJECT_NS"] = namespace
    sys.path.insert(0, str(root))
    previous_app = compat.app._current_app
    modules = {name: importlib.import_module(f"{PACKAGE}.{name}") for name in PROJECTS}
    compat.app._current_app = previous_app
    logs = tmp_path_factory.mktemp("real_project_workers")
    workers = []
    try:
        for name in PROJECTS:
            log = logs / f"{name}.log"
            workers.append((start_worker(env, f"{PACKAGE}.{name}", threads=2, log=log), log))
        yield modules
    finally:
        for proc, log in workers:
            stop_worker(proc)
            assert_no_swallowed_errors(log)
        sys.path.remove(str(root))
        for name in PROJECTS:
            sys.modules.pop(f"{PACKAGE}.{name}", None)
        sys.modules.pop(PACKAGE, None)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        client = redis.Redis.from_url(worker_env["COMPAT_TEST_BROKER"])
        keys = list(client.scan_iter(match=namespace + "*", count=1000))
        if keys:
            client.delete(*keys)


def test_the_rename_is_the_only_change():
    source = (SOURCES / "dojo_context.py").read_text()
    renamed = rename_imports(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), renamed.splitlines(), strict=True) if a != b]
    imports = "import Celery, Task, chain, group"
    assert changed == [(f"from celery {imports}", f"from compat {imports}")]


# -- saleor: base=ExportTask, on_failure reading einfo ---------------------------------------------------
def _export(module, export_id):
    raw = module.exports().hgetall(f"{os.environ['REAL_PROJECT_NS']}:export:{export_id}")
    return {key.decode(): json.loads(value) for key, value in raw.items()}


def test_saleor_export_failure_is_recorded_from_einfo(projects):
    saleor = projects["saleor_export"]
    export_id = uuid.uuid4().hex
    result = saleor.export_products_task.delay(export_id, {"ids": None}, "csv")
    with pytest.raises(ValueError, match="names no products"):
        result.get(timeout=20)
    row = wait_for(lambda: _export(saleor, export_id), 20, "the export row")
    assert row["status"] == "failed"
    assert row["error_type"] == "<class 'ValueError'>"
    assert row["message"] == f"export {export_id}: the scope names no products"
    assert row["traceback"].startswith("Traceback (most recent call last)")
    assert "export_products_task" in row["traceback"] and "ValueError" in row["traceback"]
    assert row["task_id"] == result.id


def test_saleor_export_success_is_recorded(projects):
    saleor = projects["saleor_export"]
    export_id = uuid.uuid4().hex
    result = saleor.export_products_task.delay(export_id, {"ids": [1, 2, 3]}, "xlsx")
    assert result.get(timeout=20) == 3
    row = wait_for(lambda: _export(saleor, export_id), 20, "the export row")
    assert row == {"status": "success", "rows": 3, "task_id": result.id}


# -- DefectDojo: task_cls="module:Class" with apply_async and __call__ overrides --------------------------
def test_dojo_task_cls_string_is_every_tasks_class(projects):
    dojo = projects["dojo_context"]
    assert isinstance(dojo.import_scan, dojo.DojoAsyncTask)
    assert issubclass(dojo.app.Task, dojo.DojoAsyncTask)


def test_dojo_user_travels_by_signature_chain_and_group(projects):
    dojo = projects["dojo_context"]
    sent = dojo.send_all("alice")
    assert sent["signature"].get(timeout=20) == {"scan": 1, "user": "alice"}
    # The chain's second step is sent by the worker after the first ran (outside __call__), so it carries
    # the worker thread's user, none: Celery does the same (tests/conformance: override_chain).
    assert sent["chain"].get(timeout=20) == [{"scan": 2, "user": "alice"}, {"finding": 20, "user": None}]
    assert sent["group"].get(timeout=20) == [{"scan": 3, "user": "alice"}, {"scan": 4, "user": "alice"}]


def test_dojo_called_directly_runs_as_nobody(projects):
    dojo = projects["dojo_context"]
    with dojo.impersonate("bob"):
        assert dojo.import_scan(9) == {"scan": 9, "user": None}  # __call__ pops no user: runs as None


# -- kpi: cleanup on either time limit -----------------------------------------------------------------------
def _marks(module, export_uid):
    client = redis.Redis.from_url(os.environ["COMPAT_TEST_BROKER"])
    key = f"{os.environ['REAL_PROJECT_NS']}:export:{export_uid}"
    return [item.decode() for item in client.lrange(key, 0, -1)]


def test_kpi_soft_time_limit_is_cleaned_up(projects):
    kpi = projects["kpi_limits"]
    export_uid = uuid.uuid4().hex
    result = kpi.export_soft.delay(export_uid)
    with pytest.raises(SoftTimeLimitExceeded):
        result.get(timeout=20)
    marks = wait_for(lambda: _marks(kpi, export_uid), 20, "the cleanup marks")
    assert marks == ["cleaned up after SoftTimeLimitExceeded"]


def test_kpi_hard_time_limit_is_caught_by_celerys_name(projects):
    kpi = projects["kpi_limits"]
    export_uid = uuid.uuid4().hex
    result = kpi.export_hard.delay(export_uid)
    assert wait_for(lambda: result.state == "FAILURE", 30, "the hard-limited task to fail")
    assert type(result.result).__name__ == "TimeLimitExceeded"
    assert _marks(kpi, export_uid) == ["cleaned up after TimeLimitExceeded"]

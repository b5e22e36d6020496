"""``python -m compat check``: the pinned migration reports of the sample projects and of the conformance
stack's real Celery code, the JSON report, the exit statuses, and ``manage.py compat_check``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from compat.check import rules

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent / "check_samples"
PROJECTS = ["paperless_like", "saleor_like", "defectdojo_like", "kpi_like", "cookiecutter_like"]
CONFORMANCE = ROOT / "tests" / "conformance" / "stacks" / "celery_tasks.py"


def compat_check(*args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "compat", "check", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("project", PROJECTS)
def test_the_report_of_each_sample_project_is_the_pinned_one_and_fails_ci(project):
    done = compat_check(str(SAMPLES / project))
    assert done.stdout == (SAMPLES / f"{project}.expected").read_text(), done.stderr
    assert done.returncode == 1  # every sample uses something compat does not support yet


def test_the_conformance_stacks_real_celery_code_passes_with_two_differences():
    done = compat_check(str(CONFORMANCE))
    assert done.stdout == (SAMPLES / "conformance_celery_tasks.expected").read_text(), done.stderr
    assert done.returncode == 0
    assert "144 Celery usages in 1 file: 142 supported, 2 differs, 0 unsupported" in done.stdout
    assert "celery_tasks.py:217: differs: app.task option time_limit=1" in done.stdout
    assert "celery_tasks.py:30: differs: app.conf.update(task_annotations=...)" in done.stdout


def test_the_json_report_classifies_every_usage_by_the_table():
    done = compat_check("--json", str(SAMPLES / "paperless_like"))
    report = json.loads(done.stdout)
    assert report["exit_status"] == done.returncode == 1
    for usage in report["usages"]:
        row = rules.classify(usage["kind"])
        assert (usage["status"], usage["docs"], usage["row"]) == (row.status, row.link, row.label)
    statuses = [u["status"] for u in report["usages"]]
    assert report["summary"] == {s: statuses.count(s) for s in ("supported", "differs", "unsupported")}
    by_line = {(u["path"], u["line"], u["kind"]) for u in report["usages"]}
    # paperless's task tracking rests on signals, its consumer on pickling a dataclass into .delay():
    assert ("src/documents/signals/handlers.py", 7, "signal:before_task_publish") in by_line
    assert ("src/documents/signals/handlers.py", 15, "signal:task_prerun") in by_line
    assert ("src/documents/views.py", 9, "arg-risk:object") in by_line
    assert ("src/paperless/settings.py", 29, "setting:task_serializer=other") in by_line
    assert ("src/paperless/settings.py", 26, "setting:result_backend=django") in by_line
    assert ("src/paperless/settings.py", 19, "setting:worker_max_tasks_per_child") in by_line


def test_what_the_defectdojo_sample_shows():
    report = json.loads(compat_check("--json", str(SAMPLES / "defectdojo_like")).stdout)
    kinds = {(u["path"], u["line"]): [] for u in report["usages"]}
    for u in report["usages"]:
        kinds[(u["path"], u["line"])].append(u["kind"])
    assert "app-option:task_cls" in kinds[("dojo/celery.py", 30)]
    assert kinds[("dojo/celery.py", 19)] == ["task-method:__call__"]
    assert kinds[("dojo/celery.py", 24)] == ["task-method:apply_async"]
    assert "arg-risk:model-instance" in kinds[("dojo/tasks.py", 23)]  # args=[finding], a Finding.objects.get
    assert kinds[("dojo/tasks.py", 25)].count("arg-risk:model-instance") == 2  # test, request.user
    assert ("dojo/tasks.py", 26) not in kinds  # the line marked "# compat-check: ignore"
    assert "arg-risk:queryset" in kinds[("dojo/tasks.py", 34)]
    assert ("dojo/tasks.py", 33) in kinds and "arg-risk:model-instance" not in kinds[("dojo/tasks.py", 33)]
    assert kinds[("dojo/settings.py", 11)] == ["setting:task_serializer=other"]  # env var, pickle default
    assert not any(line == 13 for path, line in kinds if path == "dojo/settings.py")  # its own CELERY_ name
    assert kinds[("dojo/management/commands/clear_celery_queue.py", 10)] == ["control:purge"]
    assert kinds[("dojo/management/commands/clear_celery_queue.py", 16)] == ["inspect:stats"]


def test_hide_supported_lists_only_what_needs_a_look():
    done = compat_check("--hide-supported", str(SAMPLES / "kpi_like"))
    listed = [line for line in done.stdout.splitlines() if ": supported: " in line]
    assert not listed
    assert "kpi/tasks.py:27: unsupported: app.task option reject_on_worker_lost=True" in done.stdout
    assert "kobo/settings.py:25: differs: CELERYD_PREFETCH_MULTIPLIER = 1" in done.stdout


def test_bad_paths_and_unparsable_files(tmp_path):
    done = compat_check(str(tmp_path / "missing"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    (tmp_path / "broken.py").write_text("from celery import shared_task\ndef oops(:\n")
    (tmp_path / "fine.py").write_text("from celery import shared_task\n\n@shared_task\ndef ok():\n    pass\n")
    (tmp_path / "deep.py").write_text("from celery import shared_task\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "deeper.py").write_text("import celery\nx = shared_task.delay(" + "-" * 200_000 + "1)\n")
    done = compat_check(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "not read: broken.py: SyntaxError" in done.stdout
    assert "not read: deep.py: " in done.stdout and "not read: deeper.py: " in done.stdout  # no traceback
    assert "fine.py:3: supported: @shared_task def ok" in done.stdout


def test_a_status_changed_in_the_table_changes_the_report(monkeypatch, tmp_path):
    """The report has no status of its own: flipping the table's row flips the usage and the exit status."""
    from compat.check import main

    source = "from celery import shared_task\n\n@shared_task(acks_late=True)\ndef t():\n    pass\n"
    (tmp_path / "tasks.py").write_text(source)
    assert main([str(tmp_path)]) == 0
    row = rules.classify("task-option:acks_late")
    flipped = rules.Row(row.section, row.label, "unsupported", row.kinds, row.why)
    monkeypatch.setitem(rules._BY_KIND, "task-option:acks_late", flipped)
    assert main([str(tmp_path)]) == 1


def test_manage_py_compat_check(capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("compat_check", str(SAMPLES / "cookiecutter_like"))
    assert exit_info.value.code == 1
    assert capsys.readouterr().out == (SAMPLES / "cookiecutter_like.expected").read_text()
    call_command("compat_check", str(CONFORMANCE), "--hide-supported")
    out = capsys.readouterr().out
    assert "exit status 0: nothing unsupported" in out

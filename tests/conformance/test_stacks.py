"""The two stacks run the same task code: their modules differ only in the marked import line."""

from __future__ import annotations

from pathlib import Path

from tests.conformance.harness import PROGRAMS

STACKS_DIR = Path(__file__).parent / "stacks"
MARK = "# STACK IMPORT"


def _lines(stack: str, module: str = "tasks") -> list[str]:
    return (STACKS_DIR / f"{stack}_{module}.py").read_text().splitlines()


def test_stack_modules_differ_only_in_the_import_line():
    celery, compat = _lines("celery"), _lines("compat")
    assert len(celery) == len(compat)
    differing = [(a, b) for a, b in zip(celery, compat, strict=True) if a != b]
    tail = "  " + MARK + ": the only line that differs between the stacks"
    assert differing == [
        ("from celery import Celery, shared_task" + tail, "from compat import Celery, shared_task" + tail)
    ]


def test_class_modules_differ_only_in_the_import_line():
    celery, compat = _lines("celery", "classes"), _lines("compat", "classes")
    assert len(celery) == len(compat)
    differing = [(a, b) for a, b in zip(celery, compat, strict=True) if a != b]
    tail = "  " + MARK + ": the only line that differs between the stacks"
    assert differing == [("from celery import Task" + tail, "from compat import Task" + tail)]


def test_enough_programs():
    from tests.conformance import programs, programs_canvas, programs_classes  # noqa: F401 - registers

    topics = [prog.topic for prog in PROGRAMS.values()]
    assert topics.count("core") >= 50
    assert topics.count("canvas") >= 25
    assert topics.count("classes") >= 12

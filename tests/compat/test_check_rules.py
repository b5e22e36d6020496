"""``compat check``'s one table agrees with docs/compat.md and classifies every usage kind it can report."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from compat.check import arguments, celery_names, rules, scanner

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compat.md"


def doc_rows() -> dict[str, list[tuple[str, str]]]:
    """docs/compat.md's table rows by section: (first cell, status cell)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current and line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            if len(cells) >= 2 and cells[1] != "status":
                sections[current].append((cells[0], cells[1]))
    return sections


def matching(row: rules.Row, sections) -> list[tuple[str, str]]:
    cells = sections.get(row.section, [])
    return [cell for cell in cells if cell[0] == row.label or cell[0].startswith(row.label)]


@pytest.mark.parametrize("row", rules.ROWS, ids=lambda row: row.label[:50])
def test_each_row_of_the_table_is_one_docs_row_with_the_same_status(row):
    found = matching(row, doc_rows())
    assert len(found) == 1, f"{row.label!r} matches {len(found)} rows of section {row.section!r}"
    status_cell = found[0][1]
    assert rules.DOC_STATUS.get(status_cell) == row.status, (
        f"docs/compat.md says {status_cell!r} for {row.label!r}; the table says {row.status!r}"
    )


def test_the_check_sees_a_status_that_disagrees_with_the_docs():
    row = next(r for r in rules.ROWS if r.label == "`acks_late`")
    wrong = rules.Row(row.section, row.label, "supported", row.kinds, row.why)
    found = matching(wrong, doc_rows())
    assert rules.DOC_STATUS[found[0][1]] != wrong.status


def test_every_link_points_at_a_heading_of_the_docs():
    anchors = {rules.slug(section) for section in doc_rows()}
    for row in rules.ROWS:
        assert row.link.split("#", 1)[1] in anchors, row.link


def test_every_category_the_scanner_reports_has_a_fallback_or_lists_every_name():
    listed = {
        "arg-risk": arguments.RISKS,
        "task": ("app.task", "shared_task", "base-class"),
        "call": ("delay", "apply_async", "send_task", "retry", "replace"),
        "canvas": (*scanner.CANVAS_METHODS, *scanner.TASK_ONLY_METHODS, *scanner.CANVAS_FUNCTIONS),
        "result": ("AsyncResult", "GroupResult"),
        "app": ("Celery", "config_from_object", "autodiscover_tasks"),
        "django-app": ("django_celery_beat", "django_celery_results"),
        "import": ("celery", "kombu", "django_celery_beat", "django_celery_results", "celery.anything.else"),
    }
    with_fallback = {
        "setting", "task-option", "task-method", "call-option", "app-option", "signal", "control", "inspect",
    }
    assert set(listed) | with_fallback == rules.CATEGORIES
    for category, names in listed.items():
        for name in names:
            rules.classify(f"{category}:{name}")
    for category in with_fallback:
        assert rules.explicit(f"{category}:*"), category
    with pytest.raises(KeyError):
        rules.classify("no-such-category:x")


def test_every_celery_signal_control_and_inspect_method_and_task_option_is_classified_by_name():
    """Compared with the installed Celery (test-only), so a name Celery adds shows up here."""
    signals = importlib.import_module("celery.signals")
    control = importlib.import_module("celery.app.control")
    task = importlib.import_module("celery.app.task").Task
    for name in signals.__all__:
        assert rules.explicit(f"signal:{name}"), name
    for cls, category in ((control.Control, "control"), (control.Inspect, "inspect")):
        for name in vars(cls):
            if not name.startswith("_") and callable(getattr(cls, name)) and name not in ("app", "Mailbox"):
                assert rules.explicit(f"{category}:{name}"), f"{category}:{name}"
    for name in list(vars(task)):
        value = vars(task)[name]
        if name.startswith("_") or callable(value) or isinstance(value, (classmethod, property)):
            continue
        if name in ("app", "request_stack", "from_config"):
            continue  # Celery's internals, not options
        assert name in scanner.TASK_OPTIONS, name
        kind = f"task-option:{name}" if name != "serializer" else "task-option:serializer=other"
        assert rules.explicit(kind), kind


def test_the_celery_setting_names_are_celerys():
    defaults = importlib.import_module("celery.app.defaults")
    assert celery_names.SETTINGS == {name for name, _ in defaults.flatten(defaults.NAMESPACES)}
    assert celery_names.OLD_NAMES == defaults._TO_NEW_KEY


def test_supported_modules_and_names_exist_in_compat():
    import compat

    for kind in next(r for r in rules.ROWS if r.label.startswith("`celery`, ")).kinds:
        module = kind.split(":", 1)[1].replace("celery", "compat", 1)
        importlib.import_module(module)
    for name in scanner.COMPAT_TOP_LEVEL:
        assert hasattr(compat, name) or importlib.util.find_spec(f"compat.{name}"), name


def test_facade_settings_are_compats_own():
    from compat.config import DEFAULTS

    assert rules.FACADE_SETTINGS <= set(DEFAULTS)
    assert not rules.FACADE_SETTINGS & celery_names.SETTINGS

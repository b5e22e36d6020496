"""Celery's ``task_annotations``: attributes (and handlers) given to tasks from the settings.

The setting is a dict (``{'tasks.add': {'rate_limit': '10/s'}, '*': {...}}``), an object with
``annotate(task)`` (and optionally ``annotate_any()``), an import path of such a class (instantiated), or a
list or tuple of these. As in Celery (``celery/app/annotations.py``), a task gets the first non-None answer
of ``annotate(task)`` over the list, then the first non-None ``annotate_any()`` (a dict's ``'*'`` entry),
applied in that order as class attributes when the task is declared; so ``'*'`` wins over a task's own
entry for the same key, and both win over the decorator's options. A key starting with ``@`` wraps the
method it names (``{'@on_failure': around}`` sets ``on_failure = around(original)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .config import load_object


class MapAnnotation(dict):
    """A dict annotation: task name (or ``'*'``) to attributes."""

    def annotate_any(self) -> dict | None:
        return dict(self["*"]) if "*" in self else None

    def annotate(self, task: Any) -> dict | None:
        return dict(self[task.name]) if task.name in self else None


def prepare(setting: Any) -> list[Any]:
    """The annotation objects the ``task_annotations`` setting names."""
    if setting is None:
        return []
    items = setting if isinstance(setting, (list, tuple)) else (setting,)
    return [_expand(item) for item in items]


def _expand(item: Any) -> Any:
    if isinstance(item, dict):
        return MapAnnotation(item)
    if isinstance(item, str):
        return load_object(item)()
    return item


def _first(annotations: Iterable[Any], method: str, *args: Any) -> dict | None:
    """The first non-None answer of ``method`` over the annotations that have it (Celery's firstmethod)."""
    for annotation in annotations:
        try:
            answer = getattr(annotation, method)(*args)
        except AttributeError:
            continue
        if answer is not None:
            return answer
    return None


def resolve(annotations: list[Any], task_cls: type) -> list[dict]:
    """The attribute dicts that apply to the task class ``task_cls``, in the order they are applied."""
    found = (_first(annotations, "annotate", task_cls), _first(annotations, "annotate_any"))
    return [attributes for attributes in found if attributes]


def annotate(task_cls: type, setting: Any) -> None:
    """Apply the ``task_annotations`` setting to a task class being declared."""
    annotations = prepare(setting)
    for attributes in resolve(annotations, task_cls):
        for key, value in attributes.items():
            if key.startswith("@"):
                _add_around(task_cls, key[1:], value)
            else:
                setattr(task_cls, key, value)


def _add_around(task_cls: type, name: str, around: Any) -> None:
    """Celery's ``add_around``: wrap the method ``name`` (its original, when already wrapped)."""
    original = getattr(task_cls, name)
    original = getattr(original, "__wrapped__", None) or original
    method = around(original)
    method.__wrapped__ = original
    setattr(task_cls, name, method)

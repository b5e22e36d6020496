"""Task naming and lookup: Celery's naming rule, the registry, and the base class an app's tasks get."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from .config import load_object
from .exceptions import NotRegistered
from .task import Task


def default_task_class() -> type[Task]:
    """Celery's Django fixup: with ``DJANGO_SETTINGS_MODULE`` set, tasks are ``DjangoTask``."""
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        try:
            from .contrib.django.task import DjangoTask
        except ImportError:  # Django is not installed: Celery warns and carries on; so do we
            warnings.warn("DJANGO_SETTINGS_MODULE is set but Django is not installed", stacklevel=3)
            return Task
        return DjangoTask
    return Task


def bound_task_class(app: Any, task_cls: type[Task] | str | None) -> type[Task]:
    """``task_cls`` (a class, ``"module:Class"`` or ``"module.Class"``; else the default) bound to ``app``."""
    base: Any = task_cls or default_task_class()
    if isinstance(base, str):
        base = load_object(base)
    if not (isinstance(base, type) and issubclass(base, Task)):
        raise TypeError(f"task_cls={task_cls!r} must be a compat.Task subclass (got {base!r})")
    return type("Task", (base,), {"app": app, "__module__": base.__module__, "__qualname__": "Task"})


def find_task(name: str) -> Task:
    """Look a task up by name on the current app (used to unpickle tasks)."""
    from .app import get_current_app

    return get_current_app().tasks[name]


def gen_task_name(app: Any, fun: Callable[..., Any]) -> str:
    """Celery's naming rule: ``module.qualname``, with ``__main__`` replaced by the app's main name."""
    module = fun.__module__
    if module == "__main__" and app.main:
        module = app.main
    return f"{module}.{fun.__name__}"


class TaskRegistry(dict):
    """Tasks by name; a missing name raises ``NotRegistered`` as in Celery."""

    def __missing__(self, key: str) -> Task:
        raise NotRegistered(key)

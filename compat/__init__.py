"""A Celery-compatible facade over Dramatiq: change ``celery`` to ``compat`` in your imports.

from compat import Celery, shared_task, chain, group
"""

from __future__ import annotations

from typing import Any

from . import states
from ._state import current_app, current_task
from .app import Celery, get_current_app
from .canvas import Signature, chain, chord, group, signature, subtask
from .task import Task

__version__ = "0.1.0"




def shared_task(*args: Any, **options: Any) -> Any:
    """Declare a task on the current app (``@shared_task`` / ``@shared_task(**options)``)."""
    if len(args) == 1 and callable(args[0]) and not options:
        return get_current_app().task(args[0])
    return get_current_app().task(*args, **options)


__all__ = [
    "Celery",
    "Signature",
    "Task",
    "chain",
    "chord",
    "current_app",
    "current_task",
    "group",
    "shared_task",
    "signature",
    "states",
    "subtask",
]

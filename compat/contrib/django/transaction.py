"""Enqueue after the current database transaction commits.

Use these from views that create the rows a task reads: a worker may pick the message up before the
view's transaction commits and not find the row. Outside a transaction they send at once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction


def delay_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """``task.delay(*args, **kwargs)`` once the transaction commits (Celery's ``delay_on_commit``)."""
    transaction.on_commit(lambda: task.delay(*args, **kwargs))


def apply_async_on_commit(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
    """``task.apply_async(...)`` once the transaction commits."""
    transaction.on_commit(lambda: task.apply_async(args, kwargs, **options))

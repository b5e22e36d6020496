"""Enqueue after the current database transaction commits, through the transactional outbox.

Use these (or the task methods ``task.delay_on_commit(...)``/``task.apply_async_on_commit(...)``, Celery
5.4's names) from views that create the rows a task reads: a worker may pick the message up before the
view's transaction commits and not find the row. The call is stored in the same transaction, so the
event commits with the write, and is sent once it has: at once, or by a relay if the broker is down.
Outside a transaction the entry commits at once and is sent at once.
"""

from __future__ import annotations

from typing import Any

from .task import enqueue_on_commit


def delay_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """``task.delay(*args, **kwargs)`` once the transaction commits (Celery's ``delay_on_commit``)."""
    enqueue_on_commit(task, args, kwargs)


def apply_async_on_commit(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
    """``task.apply_async(args, kwargs, **options)`` once the transaction commits."""
    enqueue_on_commit(task, args, kwargs, **options)

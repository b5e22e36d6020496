"""Requeueing dead letters in bulk without letting one bad record stop the rest (``deadletters``, ``ops``).

A record whose message cannot be rebuilt (it was dead-lettered *because* it could not be decoded, or
it is not a message at all) cannot be sent again: it is reported with a one-line reason and kept, and the
others are requeued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dramatiq.errors import DecodeError

# What DeadLetterStore.requeue raises for a record whose message cannot be rebuilt.
REQUEUE_ERRORS = (DecodeError, ValueError, TypeError, KeyError, AttributeError)


def requeue_error(exc: BaseException) -> str:
    """One line saying why a dead letter cannot be requeued."""
    cause = exc.__cause__ if isinstance(exc, DecodeError) and exc.__cause__ is not None else exc
    text = (str(cause).splitlines() or [""])[0] or type(cause).__name__
    prefix = "its message cannot be decoded: " if isinstance(exc, DecodeError) else ""
    return prefix + (text if len(text) <= 200 else text[:200] + "…")


def requeue_many(
    store: Any, ids: Iterable[str], app: Any, progress: Callable[[int, int], None] | None = None
) -> tuple[list[str], list[dict[str, str]]]:
    """Requeue each of ``ids``: (the ids requeued, ``{"id", "error"}`` for each that was not).

    Parameters:
      progress: called with (ids handled so far, ids in all) after each one.

    An id with no record is reported as ``no dead letter with id ...``; store or broker errors (Redis
    down) propagate, since nothing else would succeed either.
    """
    ids = list(ids)
    done, failed = [], []
    for index, task_id in enumerate(ids, start=1):
        error = _requeue_one(store, task_id, app)
        if error is None:
            done.append(task_id)
        else:
            failed.append({"id": task_id, "error": error})
        if progress is not None:
            progress(index, len(ids))
    return done, failed


def _requeue_one(store: Any, task_id: str, app: Any) -> str | None:
    """None once requeued, else why not."""
    try:
        found = store.requeue(task_id, app)
    except REQUEUE_ERRORS as exc:
        return f"cannot be requeued: {requeue_error(exc)}"
    return None if found else f"no dead letter with id {task_id}"

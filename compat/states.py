"""Task states, with the same names and groupings as ``celery.states``, and every stored state record.

A record is the Celery-shaped dict the result store keeps per task id: ``status``, ``result``,
``traceback``, ``children``, ``date_done``, ``task_id`` (and, with ``result_extended``, what
``extended`` adds). Every writer (the worker middleware, eager mode, revocation, dead letters) builds its
record here, so the shape has one home.
"""

from __future__ import annotations

import traceback as tb
from datetime import UTC, datetime
from typing import Any

from . import serialization

PENDING = "PENDING"
RECEIVED = "RECEIVED"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"
REJECTED = "REJECTED"
RETRY = "RETRY"
IGNORED = "IGNORED"

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, REJECTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
ALL_STATES = frozenset({PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED})


def _now() -> str:
    return datetime.now(UTC).isoformat()


def record(
    task_id: str | None,
    status: str | None,
    result: Any = None,
    *,
    traceback: str | None = None,
    children: list | None = None,
    date_done: str | None = None,
) -> dict[str, Any]:
    """A state record with Celery's fields, in their stored order."""
    return {
        "status": status,
        "result": result,
        "traceback": traceback,
        "children": [] if children is None else children,
        "date_done": date_done,
        "task_id": task_id,
    }


def started(task_id: str, pid: int, hostname: str) -> dict[str, Any]:
    """STARTED (``track_started``): the worker process running the task."""
    return record(task_id, STARTED, {"pid": pid, "hostname": hostname})


def success(task_id: str, children: list | None = None) -> dict[str, Any]:
    """SUCCESS, with the result left out: the store splices in the JSON the task produced (encoded once)."""
    return record(task_id, SUCCESS, None, children=children, date_done=_now())


def failure(
    task_id: str, exc: BaseException, status: str = FAILURE, *, traceback: str | None | bool = True
) -> dict[str, Any]:
    """A failed (or retried, or revoked) task: the exception and its formatted traceback.

    Parameters:
      task_id: the task's id.
      exc: the exception, stored in Celery's ``exc_type``/``exc_message`` form.
      status: FAILURE, RETRY or REVOKED.
      traceback: True formats ``exc``'s own traceback; a string is stored as is; None stores none (a
        revoked task, a worker that died).
    """
    if traceback is True:
        traceback = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    return record(
        task_id, status, serialization.exception_to_meta(exc), traceback=traceback or None, date_done=_now()
    )


def revoked(task_id: str, exc: BaseException) -> dict[str, Any]:
    """REVOKED (revoked or expired before it ran): the ``TaskRevokedError``, no traceback."""
    return failure(task_id, exc, REVOKED, traceback=None)


def custom(task_id: str, state: str | None, meta: Any = None) -> dict[str, Any]:
    """A state a task sets itself (``update_state``, e.g. ``PROGRESS``); never ready."""
    return record(task_id, state, meta)


def extended(meta: dict[str, Any], task: Any, message: Any) -> dict[str, Any]:
    """``meta`` plus Celery's ``result_extended`` fields, when the app asks for them."""
    if task.app.conf.result_extended:
        meta.update(
            name=task.name,
            args=list(message.args),
            kwargs=dict(message.kwargs),
            worker=task.app.worker_hostname,
            retries=message.options.get("retries", 0),
            queue=message.queue_name,
        )
    return meta

"""A run: one delivery of a facade task's message, the one object its middleware and its body share.

Dramatiq calls an actor with the message's arguments only, and middleware see the message, not each
other. The facade's behaviours need more: ``Task.__call__`` must know which message it is running as (to
build ``self.request``), the state record is written from the JSON the task produced while checking its
result (encoded once), a chord header member's state write returns the chord's header (joined in the
same Redis call) for the canvas middleware, and ``retry()`` leaves the message it re-sends for the
retries middleware. All of that lives on the ``Run``.

The protocol, in the order the hooks run (``compat.middleware.facade_middleware`` declares it):

1. ``TaskState.before_process_message`` opens the run of the message.
2. ``Task.__call__`` enters it (once) and builds the request; the body runs; the result is encoded.
3. After the body, in reverse middleware order: ``TaskState`` writes the state record and closes the
   run to callers (a later direct call of the task in this thread is a plain call), ``CanvasContinuation``
   reads the request and the chord join, ``CeleryRetries`` sends the pending retries.

The current run is per worker thread (a context variable); middleware look it up by their message, so a
run never answers for another message.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic
from typing import Any

#: ``Run.chord_join`` before (or without) a chord join in the state write.
NOT_JOINED: Any = object()


class Run:
    """One delivery of a facade task's message.

    Attributes:
      task: the facade task.
      message: the delivered message (a Dramatiq message proxy).
      request: the task's ``self.request`` for this delivery, once the body started.
      result_json: the task's result as JSON (None when results are ignored or the body failed).
      chord_join: what the chord header member's state write returned (``NOT_JOINED`` without one).
      resends: the retry messages ``retry()`` asked for, sent by the retries middleware.
      entered: the body started (or the run was closed): ``Task.__call__`` enters a run once.
      started: ``time.monotonic()`` when the run was entered (``task_success``'s runtime).
    """

    __slots__ = ("task", "message", "request", "result_json", "chord_join", "resends", "entered", "started")

    def __init__(self, task: Any, message: Any) -> None:
        self.task = task
        self.message = message
        self.request: Any = None
        self.result_json: str | None = None
        self.chord_join: Any = NOT_JOINED
        self.resends: list = []
        self.entered = False
        self.started = 0.0


_current: ContextVar[Run | None] = ContextVar("compat_run", default=None)


def open_run(task: Any, message: Any) -> Run:
    """Start the run of ``message`` in this worker thread (``TaskState``, before the body)."""
    run = Run(task, message)
    _current.set(run)
    return run


def close_current() -> None:
    """No run in this worker thread: it processes a message that is not a facade task's (``TaskState``)."""
    if _current.get() is not None:
        _current.set(None)


def body_returned() -> bool:
    """Whether the message this worker thread processes is a facade task's whose body has run (or ended):
    its result is the facade's business (``TaskState`` stores it), not Dramatiq's Results middleware's."""
    run = _current.get()
    return run is not None and run.entered


def enter(actor_name: str) -> Run | None:
    """The run ``Task.__call__`` of ``actor_name`` should execute as, once; None for a plain call."""
    run = _current.get()
    if run is None or run.entered or run.message.actor_name != actor_name:
        return None
    run.entered = True
    run.started = monotonic()
    return run


def of(message: Any) -> Run | None:
    """The run of ``message`` in this worker thread, if it has one."""
    run = _current.get()
    return run if run is not None and run.message is message else None


def current() -> Run | None:
    """The run whose body is executing in this thread (for ``retry()``), if any."""
    run = _current.get()
    return run if run is not None and run.request is not None else None


_retry_send: ContextVar[tuple | None] = ContextVar("compat_retry_send", default=None)


@contextmanager
def retrying(task: Any, request: Any):
    """Inside: ``task.apply_async(task_id=request.id)`` is ``retry()``'s re-send (an overriding class's)."""
    token = _retry_send.set((task, request))
    try:
        yield
    finally:
        _retry_send.reset(token)


def retry_send() -> tuple | None:
    """The ``(task, request)`` whose retry re-send is being built, if any."""
    return _retry_send.get()

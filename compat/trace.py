"""The moments around one execution of a task, in Celery's order (``celery/app/trace.py``).

Shared by eager mode (``compat.eager``) and workers (``compat.middleware.signals``), so both fire the
same handlers and signals with the same keyword arguments:

1. ``task_prerun`` then ``before_start``, with the request pushed, just before the body;
2. success: ``on_success``, ``task_success`` (result, runtime), ``after_return('SUCCESS', ...)``;
   failure: ``on_failure`` (with a real ``einfo``), ``task_failure``, ``after_return('FAILURE', ...)``;
   retry: ``on_retry``, ``task_retry`` (request, reason, einfo), no ``after_return``;
   ``Ignore``/``Reject``: no handler at all;
3. ``task_postrun`` (retval, state), always.

In a worker a handler that raises is logged (the outcome is already stored); in eager mode it reaches the
caller, as in Celery. Each signal is tested for receivers before its arguments are built.
"""

from __future__ import annotations

import logging
from typing import Any

from . import signals, states
from .einfo import ExceptionInfo
from .exceptions import Ignore, Reject, Retry

logger = logging.getLogger("compat.trace")

_send_prerun = signals.task_prerun.send
_send_postrun = signals.task_postrun.send


def before_body(task: Any, request: Any, args: Any, kwargs: Any) -> None:
    """``task_prerun`` and ``before_start``: the request is pushed, the body is next."""
    if signals.task_prerun.receivers:
        _send_prerun(sender=task, task_id=request.id, task=task, args=args, kwargs=kwargs)
    task.before_start(request.id, args, kwargs)


def after_body(
    task: Any,
    request: Any,
    args: Any,
    kwargs: Any,
    retval: Any,
    exc: BaseException | None,
    runtime: float | None,
    eager: bool,
    state: Any = "",
) -> str | None:
    """Call the handlers and send the signals for the body's outcome, then ``task_postrun``; the state.

    ``state=None`` sends only ``task_postrun`` with no state, as Celery's eager tracer does before it
    propagates an exception.
    """
    task_id = request.id
    if state is None:
        if signals.task_postrun.receivers:
            _send_postrun(
                sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs, retval=None, state=None
            )
        return None
    state = outcome_state(exc)
    try:
        if exc is None:
            _handler(eager, task, "on_success", retval, task_id, args, kwargs)
            if signals.task_success.receivers:
                signals.task_success.send(sender=task, result=retval, runtime=runtime)
            _handler(eager, task, "after_return", state, retval, task_id, args, kwargs, None)
        elif state == states.RETRY:
            retval = exc
            einfo = ExceptionInfo.of(exc)
            _handler(eager, task, "on_retry", exc.exc, task_id, args, kwargs, einfo)
            if signals.task_retry.receivers:
                signals.task_retry.send(sender=task, request=request, reason=exc, einfo=einfo)
        elif state == states.FAILURE:
            retval = exc
            failed(task, request, args, kwargs, exc, eager)
            _handler(eager, task, "after_return", state, exc, task_id, args, kwargs, None)
        else:
            retval = exc
    finally:
        if signals.task_postrun.receivers:
            _send_postrun(
                sender=task, task_id=task_id, task=task, args=args, kwargs=kwargs, retval=retval, state=state
            )
    return state


def failed(task: Any, request: Any, args: Any, kwargs: Any, exc: BaseException, eager: bool = False) -> None:
    """``on_failure`` then ``task_failure``, with the exception's ``einfo``."""
    einfo = ExceptionInfo.of(exc)
    _handler(eager, task, "on_failure", exc, request.id, args, kwargs, einfo)
    if signals.task_failure.receivers:
        signals.task_failure.send(
            sender=task,
            task_id=request.id,
            exception=exc,
            args=args,
            kwargs=kwargs,
            traceback=exc.__traceback__,
            einfo=einfo,
        )


def internal_error(task: Any, request: Any, args: Any, kwargs: Any, exc: BaseException) -> None:
    """``task_internal_error``: an exception escaped the tracer (Celery's eager ``propagate``)."""
    if signals.task_internal_error.receivers:
        einfo = ExceptionInfo.of(exc)
        signals.task_internal_error.send(
            sender=task,
            task_id=request.id,
            args=args,
            kwargs=kwargs,
            request=request,
            exception=exc,
            traceback=exc.__traceback__,
            einfo=einfo,
        )


def outcome_state(exc: BaseException | None) -> str:
    """The state an execution ends in: SUCCESS, RETRY, IGNORED, REJECTED or FAILURE."""
    if exc is None:
        return states.SUCCESS
    if isinstance(exc, Retry):
        return states.RETRY
    if isinstance(exc, Ignore):
        return states.IGNORED
    if isinstance(exc, Reject):
        return states.REJECTED
    return states.FAILURE


def _handler(eager: bool, task: Any, name: str, *args: Any) -> None:
    """Call the task's handler ``name``; in a worker a failing handler is logged, not raised."""
    if eager:
        getattr(task, name)(*args)
        return
    try:
        getattr(task, name)(*args)
    except Exception as exc:  # the outcome is stored already: log, as Celery's worker does
        logger.exception("Task %s %s handler raised: %r", task.name, name, exc)

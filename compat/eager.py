"""Running a task inline (``Task.apply`` and ``task_always_eager``), with Celery's eager behaviour.

Countdown, eta, expiry, routing and time limits do not apply; retries run inline, recursively; with
``throw`` (``task_eager_propagates``) every exception, ``Retry`` included, reaches the caller and
errbacks are skipped, exactly as Celery's eager tracer does.
"""

from __future__ import annotations

import socket
import traceback
from time import monotonic
from typing import Any

from . import request as requests
from . import states, trace
from .exceptions import Ignore, Reject, Retry
from .request import Context
from .results import EagerResult
from .retries import run_with_autoretry
from .task import has_custom


def apply_task(
    task: Any,
    args: Any = None,
    kwargs: Any = None,
    *,
    link: Any = None,
    link_error: Any = None,
    task_id: str | None = None,
    retries: int | None = None,
    throw: bool | None = None,
    headers: Any = None,
    **options: Any,
) -> EagerResult:
    """Run ``task`` here and now and wrap the outcome in an ``EagerResult``."""
    from .canvas.callbacks import apply_callbacks

    app = task.app
    given_args = args if args is not None else ()
    args = tuple(args or ())
    kwargs = dict(kwargs or {})
    task_id = task_id or app.new_id()
    retries = retries or 0
    throw = app.conf.task_eager_propagates if throw is None else throw
    running = requests.current()
    parent = running[1] if running is not None and not running[1].called_directly else None
    request = Context(
        id=task_id,
        task=task.name,
        retries=retries,
        args=given_args,
        kwargs=kwargs,
        is_eager=True,
        called_directly=False,
        root_id=(parent.root_id or parent.id) if parent else task_id,
        parent_id=parent.id if parent else None,
        headers=headers,
        delivery_info={
            "is_eager": True,
            "exchange": None,
            "routing_key": None,
            "priority": options.get("priority"),
        },
        hostname=socket.gethostname(),
        callbacks=link,
        errbacks=link_error,
        ignore_result=options.get("ignore_result", False),
    )
    started = monotonic()
    with requests.executing(task, request):
        try:
            trace.before_body(task, request, args, kwargs)
            call = task if has_custom(task, "__call__") else None  # Celery's tracer calls a class's own
            value = run_with_autoretry(task, request, args, kwargs, call)
        except Exception as exc:
            if throw and not isinstance(exc, (Ignore, Reject)):
                trace.after_body(task, request, args, kwargs, None, None, None, eager=True, state=None)
                trace.internal_error(task, request, args, kwargs, exc)
                raise
            return _failed(task, request, args, kwargs, exc, link_error, retries)
        apply_callbacks(app, link, value, parent_id=task_id, root_id=request.root_id)
        trace.after_body(task, request, args, kwargs, value, None, monotonic() - started, eager=True)
    if isinstance(value, Retry) and value.sig is not None:  # ``return self.retry(throw=False)``: Celery's
        return value.sig.apply(retries=retries + 1)  # apply runs the retry it returned
    return _finish(task, EagerResult(task_id, value, states.SUCCESS, name=task.name, app=app))


def _failed(
    task: Any, request: Context, args: Any, kwargs: Any, exc: Exception, link_error: Any, retries: int
) -> EagerResult:
    """The eager outcome of a body that raised (not propagated): errbacks, handlers, signals, result."""
    from .canvas.callbacks import run_errbacks

    app, task_id = task.app, request.id
    state = trace.outcome_state(exc)
    text = None
    if state == states.FAILURE:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        run_errbacks(app, link_error, request, exc, text, eager=True)
    trace.after_body(task, request, args, kwargs, None, exc, None, eager=True)
    if isinstance(exc, Retry) and exc.sig is not None:
        return exc.sig.apply(retries=retries + 1)
    result = EagerResult(task_id, exc, state, traceback=text, name=task.name, app=app)
    return result if state in (states.IGNORED, states.REJECTED) else _finish(task, result)


def _finish(task: Any, result: EagerResult) -> EagerResult:
    """Store the eager outcome when ``task_store_eager_result`` asks for it."""
    store = getattr(task, "store_eager_result", None)
    if store is None:
        store = task.app.conf.task_store_eager_result
    if store and task.app.backend.enabled:
        if isinstance(result.result, BaseException):
            meta = states.failure(result.id, result.result, result.state)
        else:
            meta = states.record(result.id, result.state, result.result)
        task.app.backend.set_state(result.id, meta)
    return result

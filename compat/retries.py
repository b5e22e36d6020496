"""Celery's retry policy, in one place: limits, countdown, backoff, jitter, ``autoretry_for``, ``throws``.

Celery never retries on its own: an exception fails the task unless ``autoretry_for`` lists it or the task
calls ``self.retry()``. ``max_retries`` (default 3) only bounds retries; past it ``retry()`` re-raises
``exc`` when given, else ``MaxRetriesExceededError``. ``countdown`` defaults to ``default_retry_delay``
(180 s); ``retry_backoff`` makes autoretries wait ``factor * 2**retries`` seconds, capped by
``retry_backoff_max`` and, with ``retry_jitter``, drawn at random below that.

``retry()`` decides and raises ``Retry``; it sends nothing. In a worker, the message it will re-send (same
id, ``retries + 1``) waits on the run (``compat.runs``), and ``CeleryRetries`` sends it once the state
record is written, as Dramatiq's ``Retries`` middleware does. In eager mode the retry runs inline,
recursively (``compat.eager``).
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from . import runs
from .exceptions import Ignore, MaxRetriesExceededError, Reject, Retry, TaskTerminated
from .messages import retry_message

#: Exceptions that end a run without being an error: Dramatiq logs them at INFO without a traceback.
CONTROL_FLOW = (Retry, Ignore, Reject)


def expected_exceptions(throws: Any) -> tuple[type[BaseException], ...]:
    """The actor's ``throws``: Celery's control-flow signals plus the task's own expected failures."""
    return (*CONTROL_FLOW, TaskTerminated, *tuple(throws or ()))


def backoff_countdown(factor: float, retries: int, maximum: int, full_jitter: bool) -> int:
    """Celery's ``get_exponential_backoff_interval``: ``factor * 2**retries``, capped, optionally jittered."""
    countdown = min(maximum, int(max(1.0, factor)) * (2**retries))
    if full_jitter:
        countdown = random.randrange(countdown + 1)
    return max(0, countdown)


def run_with_autoretry(task: Any, request: Any, args: Any, kwargs: Any, call: Any = None) -> Any:
    """Run the task's body (``call``, else ``task.run``); an exception ``autoretry_for`` lists (and
    ``dont_autoretry_for`` does not)
    becomes ``task.retry(exc=exc, **retry_kwargs)``, with the backoff countdown when ``retry_backoff`` is on.
    """
    body = task.run if call is None else call
    if not task.autoretry_for:
        return body(*args, **kwargs)
    try:
        return body(*args, **kwargs)
    except CONTROL_FLOW:
        raise
    except Exception as exc:
        if task.dont_autoretry_for and isinstance(exc, tuple(task.dont_autoretry_for)):
            raise
        if not isinstance(exc, tuple(task.autoretry_for)):
            raise
        options = dict(task.retry_kwargs or {})
        if task.retry_backoff:
            options["countdown"] = backoff_countdown(
                task.retry_backoff, request.retries, task.retry_backoff_max, task.retry_jitter
            )
        raise task.retry(exc=exc, **options) from None


def retry(
    task: Any,
    args: Any = None,
    kwargs: Any = None,
    exc: BaseException | None = None,
    throw: bool = True,
    eta: datetime | None = None,
    countdown: float | None = None,
    max_retries: int | None = None,
    **options: Any,
) -> Retry:
    """``Task.retry``: decide the retry of the running execution of ``task`` and raise (or return) ``Retry``.

    Parameters:
      args, kwargs: the retry's arguments (default: the current ones; ``kwargs`` are merged in).
      exc: the cause; re-raised instead of ``MaxRetriesExceededError`` past the limit.
      throw: raise the ``Retry`` (default) or return it.
      eta, countdown: when the retry may run (``countdown`` defaults to ``default_retry_delay``).
      max_retries: this call's limit instead of the task's.
      **options: ``apply_async`` options for the retry (``queue``, ``priority``, ...).
    """
    request = task.request
    retries = request.retries + 1
    limit = task.max_retries if max_retries is None else max_retries
    if request.called_directly:
        raise (exc or Retry("Task can be retried", None))
    if not eta and countdown is None:
        countdown = task.default_retry_delay
    new_args = request.args if args is None else args
    new_kwargs = request.kwargs if kwargs is None else {**(request.kwargs or {}), **kwargs}
    if limit is not None and retries > limit:
        if exc:
            raise exc
        raise MaxRetriesExceededError(
            f"Can't retry {task.name}[{request.id}] args:{tuple(new_args or ())} kwargs:{new_kwargs}",
            task_args=new_args,
            task_kwargs=new_kwargs,
        )
    signal = Retry(exc=exc, when=eta or countdown, is_eager=request.is_eager)
    if request.is_eager:
        signal.sig = task.signature(new_args, new_kwargs, task_id=request.id)
    else:
        from .task import has_custom

        call = dict(retries=retries, countdown=countdown, eta=eta, **options)
        if has_custom(task, "apply_async"):  # Celery re-sends through the task's own apply_async
            with runs.retrying(task, request):
                task.apply_async(new_args, new_kwargs, task_id=request.id, **call)
        else:
            queue_resend(task, request, new_args, new_kwargs, **call)
    if throw:
        raise signal
    return signal


def queue_resend(
    task: Any,
    request: Any,
    args: Any,
    kwargs: Any,
    *,
    retries: int | None = None,
    countdown: float | None = None,
    eta: datetime | None = None,
    **options: Any,
) -> Any:
    """The retry's message (same id, ``retries`` bumped), left on the run for the retries middleware."""
    if retries is None:  # an overriding apply_async that dropped it
        retries = request.retries + 1
    for unused in ("task_id", "add_to_parent", "producer", "shadow", "link", "link_error"):
        options.pop(unused, None)
    resend = retry_message(
        task,
        request,
        args,
        kwargs,
        retries=retries,
        countdown=countdown,
        eta=eta,
        dropped=task.app.broker.delivery_options,
        **options,
    )
    run = runs.current()
    if run is not None and run.request is request:
        run.resends.append(resend)
    else:  # not the delivered message's own request (cannot happen in a worker): send it now
        task.app.enqueue([resend])
    return task.AsyncResult(request.id)

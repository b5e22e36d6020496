"""Celery's task handlers and signals in workers: received, run, finished, revoked, unknown.

``task_received`` fires when a worker
takes a message it will run (after the revocation check, as Celery's strategy does); the handlers and
``task_success``/``task_failure``/``task_retry``/``task_postrun`` once the outcome is stored
(``compat.trace`` holds their order, shared with eager mode); ``task_unknown`` for a message naming no
task here (sender: the process's consumer, as in Celery). ``task_prerun`` and ``before_start`` are sent by
the task itself, with its request pushed;
``task_revoked`` by the revocation middleware, and the publish signals by ``compat.publishing``.

Every hook first tests whether anyone listens, so an app with no receivers pays a list test per hook; the
outcome hook also returns at once when no receiver listens and the task keeps ``compat.Task``'s no-op
handlers.
"""

from __future__ import annotations

import time
from typing import Any

from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware

from .. import request as requests
from .. import runs, signals, trace
from ..exceptions import NotRegistered, TaskTerminated
from ..task import Task, is_facade_task
from .lifecycle import node_consumer

#: The task's handlers ``trace.after_body`` calls in a worker, and the signals it (or this module) sends.
HANDLERS = ("on_success", "on_failure", "on_retry", "after_return")
_OUTCOME_SIGNALS = (
    signals.task_success,
    signals.task_failure,
    signals.task_retry,
    signals.task_postrun,
    signals.task_revoked,
)


def _listened() -> bool:
    for signal in _OUTCOME_SIGNALS:
        if signal.receivers:
            return True
    return False


def outcome_observed(task: Any) -> bool:
    """Whether anything runs for a message's outcome here: a receiver of an outcome signal, or a handler."""
    return _listened() or has_handlers(task)


def has_handlers(task: Any) -> bool:
    """Whether ``task`` overrides one of ``compat.Task``'s no-op outcome handlers (class or instance)."""
    cls = type(task)
    for name in HANDLERS:
        if getattr(cls, name) is not getattr(Task, name) or name in task.__dict__:
            return True
    return False


class TaskReceived(Middleware):
    """Sends ``task_received`` for a message the worker will run (placed after the revocation check)."""

    def before_process_message(self, broker, message):
        if signals.task_received.receivers:
            task = is_facade_task(broker, message)
            if task is not None:
                signals.task_received.send(sender=None, request=task.request_from_message(message))


class TaskSignals(Middleware):
    """Calls the task's handlers (``on_success``, ``on_failure``...) and sends the outcome's signals.

    Placed before ``CeleryRetries`` and ``CanvasContinuation``, so its after-hook runs once the state is
    stored, the next canvas steps and the retry are sent: Celery's order.
    """

    def after_process_message(self, broker, message, *, result=None, exception=None):
        task = is_facade_task(broker, message)
        if task is None or not outcome_observed(task):
            return  # nothing would run: skip building the request view, the arguments and the context
        run = runs.of(message)
        request = run.request if run is not None and run.request is not None else None
        if request is None:  # the body never started (a middleware failed first)
            request = task.request_from_message(message)
        if isinstance(exception, TaskTerminated):
            # revoke(terminate=True): Celery's pool kills the process, so no handler and no postrun run;
            # the worker reports task_revoked.
            if signals.task_revoked.receivers:
                signum = getattr(exception, "signum", None)
                signals.task_revoked.send(
                    sender=task, request=request, terminated=True, signum=signum, expired=False
                )
            return
        runtime = time.monotonic() - run.started if run is not None and run.started else None
        with requests.executing(task, request):  # handlers read self.request, as in Celery
            trace.after_body(
                task,
                request,
                list(message.args),
                dict(message.kwargs),
                result,
                exception,
                runtime,
                eager=False,
            )

    def after_nack(self, broker, message):
        error = getattr(message, "_exception", None)
        if isinstance(error, ActorNotFound) and signals.task_unknown.receivers:
            signals.task_unknown.send(
                sender=node_consumer(broker),
                message=message,
                exc=NotRegistered(message.actor_name),
                name=message.actor_name,
                id=message.message_id,
            )

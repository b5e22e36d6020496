"""Records Celery task states (STARTED, RETRY, SUCCESS, FAILURE) in the app's result store."""

from __future__ import annotations

import os
from typing import Any

from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware

from .. import runs, states
from ..exceptions import Ignore, NotRegistered, Reject, Retry, TaskRevokedError, TaskTerminated
from ..task import Task, is_facade_task
from .signals import outcome_observed

#: Message options whose after-hooks (the facade's canvas, Dramatiq's Callbacks and Pipelines) send more.
_CONTINUED_BY = ("link", "link_error", "chain", "chord", "on_success", "on_failure", "pipe_target")


def quiet_after() -> frozenset[type]:
    """After-hooks that may run between this one's state write and the consumer's acknowledgement when the
    message is acknowledged in that write: for a success with none of ``_CONTINUED_BY``, no retry pending
    and no outcome handler or receiver, each of them only keeps in-process books (or does nothing)."""
    from dramatiq.middleware import (
        AgeLimit,
        Callbacks,
        CurrentMessage,
        Pipelines,
        ShutdownNotifications,
        TimeLimit,
    )

    from .canvas import CanvasContinuation
    from .metrics import WorkerMetrics
    from .rate_limit import RateLimit
    from .retries import CeleryRetries
    from .revocation import Revocation
    from .signals import TaskReceived, TaskSignals
    from .time_limit import HardTimeLimit

    return frozenset(
        {
            WorkerMetrics,
            HardTimeLimit,
            TimeLimit,
            ShutdownNotifications,
            Callbacks,
            Pipelines,
            CurrentMessage,
            TaskSignals,
            CeleryRetries,
            CanvasContinuation,
            Revocation,
            RateLimit,
            TaskReceived,
            AgeLimit,
        }
    )


class TaskState(Middleware):
    """Stores each facade task's state under its id; a ready state is final.

    The task body runs through ``Task.__call__``; this middleware opens the message's run before the call
    (``compat.runs``: the task enters it and builds its ``request``) and stores the outcome after it. The
    success record is written from the JSON the task produced while checking its return value, so it is
    encoded once; a chord header member's write also joins its chord, for ``CanvasContinuation``.
    """

    def __init__(self, app: Any = None) -> None:
        self.app = app
        self._quiet: dict[int, bool] = {}
        self._deferred: set = set()  # the stores whose writer threads hold this worker's success writes
        self._work_queue: Any = None  # the worker's (its unfinished_tasks: messages queued or running)

    def after_nack(self, broker, message):
        """A message for a task this worker does not know: store FAILURE ``NotRegistered``, as Celery does."""
        error = getattr(message, "_exception", None)
        if self.app is None or not isinstance(error, ActorNotFound) or not self.app.backend.enabled:
            return
        meta = states.failure(message.message_id, NotRegistered(message.actor_name), traceback=None)
        self.app.backend.set_state(message.message_id, meta)

    def after_worker_boot(self, broker, worker):
        self._work_queue = getattr(worker, "work_queue", None)

    def _idle(self) -> bool:
        """Whether this worker has no message but the current one, queued or running (then a success
        write goes at once from this thread rather than through the writer: no hand-off to wait for)."""
        queue = self._work_queue
        return queue is None or queue.unfinished_tasks <= 1

    def after_worker_shutdown(self, broker, worker):
        """The worker threads have stopped: send the success writes still waiting (``results/writer.py``)."""
        for store in list(self._deferred):
            store.stop_writer()
        self._deferred.clear()

    def before_process_message(self, broker, message):
        task = is_facade_task(broker, message)
        if task is None:
            runs.close_current()  # a plain actor's message: no facade run answers for it
            return
        runs.open_run(task, message)
        track = task.track_started if task.track_started is not None else task.app.conf.task_track_started
        if track:
            task.app.backend.set_state(
                message.message_id, states.started(message.message_id, os.getpid(), task.app.worker_hostname)
            )

    def after_process_message(self, broker, message, *, result=None, exception=None):
        task = is_facade_task(broker, message)
        if task is None:
            return
        run = runs.of(message)
        if run is not None:
            run.entered = True  # closed to callers: a later direct call of the task is a plain call
        if isinstance(exception, (Ignore, Reject)):
            return
        store = task.app.backend if task.app.backend.enabled else None
        task_id = message.message_id
        if exception is None:
            if store is not None and not message.options.get("ignore_result"):
                meta = self.success_meta(task, message, run)
                result_json = None
                if run is not None:  # encoded once, by the task; not kept past this write
                    result_json, run.result_json = run.result_json, None
                chord = message.options.get("chord")
                if chord:  # a header member: count it in the chord's barrier in the same call
                    joined = store.set_state_joining(task_id, meta, chord, result_json=result_json)
                    if run is not None:
                        run.chord_join = joined
                else:
                    ack = self.inline_ack(broker, task, message, run, store)
                    if ack is not None and self._idle():  # nothing after this hook can tell: one script
                        store.set_state_acking(task_id, meta, ack, result_json=result_json)
                    elif ack is not None:  # and under load, sent by the writer thread with others
                        store.set_state_acking(task_id, meta, ack, result_json=result_json, defer=True)
                        self._deferred.add(store)
                    else:
                        store.set_state(task_id, meta, result_json=result_json)
        elif isinstance(exception, TaskTerminated):  # revoke(terminate=True): REVOKED, as in Celery
            if store is not None:
                meta = states.revoked(task_id, TaskRevokedError("terminated"))
                store.set_state(task_id, states.extended(meta, task, message))
        elif isinstance(exception, Retry):
            cause = exception.exc if exception.exc is not None else exception
            if store is not None and not message.options.get("ignore_result"):
                meta = states.failure(task_id, cause, states.RETRY)
                store.set_state(task_id, states.extended(meta, task, message))
        else:
            keep = not message.options.get("ignore_result") or task.store_errors_even_if_ignored
            if store is not None and keep:
                store.set_state(task_id, states.extended(states.failure(task_id, exception), task, message))

    def inline_ack(self, broker: Any, task: Task, message: Any, run: Any, store: Any) -> Any:
        """The broker's acknowledgement of ``message`` to run in its success write, or None.

        Only when no after-hook that runs after this one (and before the consumer acknowledges) would do
        anything another process could see: no canvas step or callback to send, no retry pending, no
        outcome handler or signal receiver (which may read the state, or fail), and only the facade's
        and Dramatiq's own middleware in those places. Then storing the state and acknowledging the
        message in one script keeps at-least-once exactly (both happen, or neither) and saves the
        acknowledgement's round trip. The store and the broker say whether they share a Redis.
        """
        if run is None or run.resends or message.failed or not hasattr(store, "inline_ack"):
            return None
        options = message.options
        for name in _CONTINUED_BY:
            if options.get(name) is not None:
                return None
        if outcome_observed(task) or not self._quiet_after(broker):
            return None
        return store.inline_ack(broker, message)

    def _quiet_after(self, broker: Any) -> bool:
        """Whether every ``after_process_message`` hook run after this one is one of ``quiet_after()``."""
        middleware = broker.middleware
        key = len(middleware)
        cached = self._quiet.get(key)
        if cached is None:
            index = next((i for i, m in enumerate(middleware) if m is self), None)
            base = Middleware.after_process_message
            quiet = quiet_after()
            later = [m for m in middleware[: index or 0] if type(m).after_process_message is not base]
            cached = index is not None and all(type(m) in quiet for m in later)
            self._quiet[key] = cached
        return cached

    def success_meta(self, task: Task, message: Any, run: Any = None) -> dict[str, Any]:
        request = run.request if run is not None else None
        children = [child.as_tuple() for child in request.children] if request is not None else []
        return states.extended(states.success(message.message_id, children), task, message)

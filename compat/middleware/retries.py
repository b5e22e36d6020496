"""Celery's retry rules: a facade task is never retried automatically, and a retry is sent from here.

``Task.retry()`` (``compat.retries``) decides the retry and raises ``Retry``; the message it re-sends
(same id, ``retries + 1``, after its countdown) waits on the run (``compat.runs``) until this middleware
sends it, after the RETRY state is stored, as Dramatiq's own ``Retries`` re-enqueues a failed message.
The current delivery is then acknowledged. If the retry cannot be sent (the broker is down), the task
fails with that error instead, as it would have in Celery: FAILURE, a dead letter and an alert, nothing
lost silently.

Any other exception ends the task for good: the ``DeadLetters`` middleware keeps it in the dead-letter
store and the delivery is acknowledged. ``Reject(requeue=True)`` puts the message back. Plain Dramatiq
actors on the same broker keep Dramatiq's own retry behaviour.
"""

from __future__ import annotations

import logging
from typing import Any

from dramatiq.middleware import Retries

from .. import runs, states, trace
from ..deadletters import bury
from ..exceptions import Reject
from ..task import Task, is_facade_task

logger = logging.getLogger("compat.retries")


class CeleryRetries(Retries):
    """Dramatiq's Retries for plain actors; Celery's explicit retries for facade tasks."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        task = is_facade_task(broker, message)
        if task is None:
            return super().after_process_message(broker, message, result=result, exception=exception)
        run = runs.of(message)
        if run is not None and run.resends:
            resends, run.resends = run.resends, []
            self.resend(task, message, resends)
        if isinstance(exception, Reject) and exception.requeue:
            broker.enqueue(message.copy())
        return None

    def resend(self, task: Task, message: Any, resends: list) -> None:
        """Send the retries ``retry()`` asked for; if that fails, the task fails with the error."""
        app = task.app
        try:
            app.enqueue(resends)
        except Exception as exc:
            logger.error("could not send the retry of %s[%s]: %s", task.name, message.message_id, exc)
            task_id = message.message_id
            keep = not message.options.get("ignore_result") or task.store_errors_even_if_ignored
            if app.backend.enabled and keep:
                app.backend.set_state(task_id, states.extended(states.failure(task_id, exc), task, message))
            bury(app, message, "failed", exc)
            request = task.request_from_message(message)
            trace.failed(task, request, list(message.args), dict(message.kwargs), exc)
            task.after_return("FAILURE", exc, task_id, list(message.args), dict(message.kwargs), None)

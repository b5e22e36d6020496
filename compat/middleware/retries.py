"""Celery's retry rules: a facade task is never retried automatically.

``Task.retry()`` re-sends the message itself (same id, ``retries + 1``, after its countdown) and raises
``Retry``; this middleware then lets the current delivery be acknowledged. Any other exception ends the
task for good: the ``DeadLetters`` middleware keeps it in the dead-letter store and the delivery is
acknowledged. ``Reject(requeue=True)`` puts the message back. Plain Dramatiq actors on the same broker
keep Dramatiq's own retry behaviour.
"""

from __future__ import annotations

from dramatiq.middleware import Retries

from ..exceptions import Reject
from ..task import is_facade_task


class CeleryRetries(Retries):
    """Dramatiq's Retries for plain actors; Celery's explicit retries for facade tasks."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if is_facade_task(broker, message) is None:
            return super().after_process_message(broker, message, result=result, exception=exception)
        if isinstance(exception, Reject) and exception.requeue:
            broker.enqueue(message.copy())
        return None

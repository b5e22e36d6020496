"""Keeps every facade task that failed for good in the dead-letter store, and raises an alert.

A task stopped by ``revoke(terminate=True)`` did not fail: it is REVOKED, never a dead letter.
"For good" means: an exception that is not a retry (retries exhausted end the same way), a hard time
limit, a message for a task this worker does not know (``NotRegistered``), a message Dramatiq's own
middleware rejected (``max_age``), or a poison message (found by the broker maintenance). The message
itself is then acknowledged: the store is its one resting place.
"""

from __future__ import annotations

from typing import Any

from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware

from ..deadletters import bury, store_for
from ..exceptions import Ignore, NotRegistered, Reject, Retry, TaskTerminated
from ..task import is_facade_task


class DeadLetters(Middleware):
    """Writes dead-letter records and alerts for one app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._store = None

    @property
    def store(self):
        if self._store is None:
            self._store = store_for(self.app)
        return self._store

    def bury(self, message: Any, reason: str, exception: BaseException | None = None) -> None:
        """Record ``message`` as dead (and alert); storage errors are logged, not raised."""
        store = self.store
        if store is not None:
            bury(self.app, message, reason, exception, store)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or isinstance(exception, (Retry, Ignore, TaskTerminated)):
            return
        if is_facade_task(broker, message) is None:
            return
        if isinstance(exception, Reject):
            if not exception.requeue:
                self.bury(message, "rejected", exception)
            return
        reason = "time-limit" if type(exception).__name__ == "TimeLimitExceeded" else "failed"
        self.bury(message, reason, exception)

    def after_nack(self, broker, message):
        error = getattr(message, "_exception", None)
        if isinstance(error, ActorNotFound):
            self.bury(message, "not-registered", NotRegistered(message.actor_name))
        elif is_facade_task(broker, message) is not None:
            # A facade task is only rejected by Dramatiq's own middleware (AgeLimit's ``max_age``), which
            # would leave it in Dramatiq's .XQ, where nobody looks for a Celery task.
            self.bury(message, f"skipped: {error}" if error else "rejected by the broker", error)

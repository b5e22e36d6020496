"""Revoked and expired tasks never run: they are skipped and stored as REVOKED.

Revocations are kept in the result store (a sorted set, pruned after ``result_expires``) and broadcast;
each worker process keeps them in memory, fed by the store's ``follow_revocations``, so checking a message
costs no Redis call.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from dramatiq.middleware import Middleware, SkipMessage

from .. import signals, states
from ..exceptions import TaskRevokedError
from ..task import is_facade_task


class Revocation(Middleware):
    """Skips messages whose task id was revoked or whose ``expires`` has passed."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.listening = False
        self.lock = threading.Lock()

    def _listen(self, app: Any) -> None:
        with self.lock:
            if self.listening:
                return
            self.listening = True
        backend = app.backend
        if not getattr(backend, "enabled", False):
            return
        horizon = app.conf.result_expires
        horizon = horizon.total_seconds() if hasattr(horizon, "total_seconds") else float(horizon or 86400)
        self.revoked.update(backend.revoked_since(time.time() - horizon))
        backend.follow_revocations(self.revoked.add)

    def before_process_message(self, broker, message):
        task = is_facade_task(broker, message)
        if task is None:
            return
        if not self.listening:
            self._listen(task.app)
        reason = None
        if message.message_id in self.revoked:
            reason = "revoked"
        else:
            expires = message.options.get("expires")
            if expires is not None and expires <= datetime.now(UTC).timestamp() * 1000:
                reason = "expired"
        if reason is None:
            return
        meta = states.revoked(message.message_id, TaskRevokedError(reason))
        task.app.backend.set_state(message.message_id, meta)
        if signals.task_revoked.receivers:
            signals.task_revoked.send(
                sender=task, request=task.request_from_message(message), terminated=False, signum=None,
                expired=reason == "expired",
            )
        raise SkipMessage(f"task {message.message_id} {reason}")

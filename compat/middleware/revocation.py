"""Revoked and expired tasks never run: they are skipped and stored as REVOKED.

Revocations are kept in the result store (a sorted set, pruned after ``result_expires``) and broadcast;
each worker process keeps them in memory, so checking a message costs no Redis call.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from dramatiq.middleware import Middleware, SkipMessage

from ..exceptions import TaskRevokedError
from .state import failure_meta, is_facade_task


class Revocation(Middleware):
    """Skips messages whose task id was revoked or whose ``expires`` has passed."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.listening = False
        self.lock = threading.Lock()
        self.in_process_store: Any = None  # the in-memory store (memory:// apps) is read directly

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
        if getattr(backend, "client", None) is None:
            self.in_process_store = backend
            return
        thread = threading.Thread(
            target=self._follow, args=(backend,), name="compat-revocations", daemon=True
        )
        thread.start()

    def _follow(self, backend: Any) -> None:
        while True:
            try:
                pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(backend.revoke_channel)
                for item in pubsub.listen():
                    if item and item.get("type") == "message":
                        self.revoked.add(item["data"].decode())
            except Exception:  # reconnect after a broker outage
                time.sleep(1.0)

    def before_process_message(self, broker, message):
        task = is_facade_task(broker, message)
        if task is None:
            return
        if not self.listening:
            self._listen(task.app)
        local = self.in_process_store
        reason = None
        if message.message_id in self.revoked or (local is not None and message.message_id in local.revoked):
            reason = "revoked"
        else:
            expires = message.options.get("expires")
            if expires is not None and expires <= datetime.now(UTC).timestamp() * 1000:
                reason = "expired"
        if reason is None:
            return
        meta = failure_meta(message.message_id, TaskRevokedError(reason), status="REVOKED")
        meta["traceback"] = None
        task.app.backend.set_state(message.message_id, meta)
        raise SkipMessage(f"task {message.message_id} {reason}")

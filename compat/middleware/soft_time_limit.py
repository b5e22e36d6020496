"""Celery's ``soft_time_limit``: raise ``SoftTimeLimitExceeded`` inside a task that runs too long.

The task can catch it and clean up; if it does not, the task fails with it. The hard ``time_limit`` is
Dramatiq's ``TimeLimit`` middleware (set per task from the Celery option).
"""

from __future__ import annotations

import threading
import time

from dramatiq.middleware import Middleware
from dramatiq.threading import raise_thread_exception

from ..exceptions import SoftTimeLimitExceeded
from ..task import is_facade_task


class SoftTimeLimit(Middleware):
    """One watcher thread per process checks running facade tasks' soft deadlines every ``interval`` s."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.deadlines: dict[int, float] = {}
        self.lock = threading.Lock()
        self.watcher: threading.Thread | None = None

    def _ensure_watcher(self) -> None:
        with self.lock:
            if self.watcher is None:
                self.watcher = threading.Thread(
                    target=self._watch, name="compat-soft-time-limit", daemon=True
                )
                self.watcher.start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.interval)
            now = time.monotonic()
            with self.lock:
                due = [thread_id for thread_id, deadline in self.deadlines.items() if deadline <= now]
                for thread_id in due:
                    del self.deadlines[thread_id]
            for thread_id in due:
                raise_thread_exception(thread_id, SoftTimeLimitExceeded)

    def before_process_message(self, broker, message):
        task = is_facade_task(broker, message)
        if task is None:
            return
        limit = message.options.get("soft_time_limit") or task.soft_time_limit
        if limit is None:
            limit = task.app.conf.task_soft_time_limit
        if not limit:
            return
        self._ensure_watcher()
        with self.lock:
            self.deadlines[threading.get_ident()] = time.monotonic() + float(limit)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        with self.lock:
            self.deadlines.pop(threading.get_ident(), None)

    after_skip_message = after_process_message

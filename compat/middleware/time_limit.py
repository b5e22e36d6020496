"""Celery's hard ``time_limit``: Dramatiq's ``TimeLimit``, raising ``compat.exceptions.TimeLimitExceeded``.

Dramatiq interrupts a thread that runs too long with its own ``TimeLimitExceeded`` (a ``BaseException``),
which ``except compat.exceptions.TimeLimitExceeded`` (Celery's, an ``Exception``) would not catch. Here
the same deadline raises compat's class, a subclass of Dramatiq's and of ``Exception`` (as Celery's is),
so a task that catches Celery's exception catches it and Dramatiq's own handling is unchanged. Celery
kills the worker process instead (the task cannot catch it there): docs/compat.md lists that difference.
"""

from __future__ import annotations

from time import monotonic

from dramatiq.middleware import TimeLimit
from dramatiq.middleware.threading import is_gevent_active, raise_thread_exception
from dramatiq.middleware.time_limit import _CtypesTimeoutManager

from ..exceptions import TimeLimitExceeded


class _Deadlines(_CtypesTimeoutManager):
    """Dramatiq's deadline watcher, raising compat's ``TimeLimitExceeded``."""

    def _handle_deadlines(self) -> None:
        now = monotonic()
        due = []
        with self.mu:
            for thread_id, deadline in self.deadlines.items():
                if deadline and now >= deadline:
                    self.deadlines[thread_id] = None
                    due.append(thread_id)
        for thread_id in due:
            self.logger.warning("Time limit exceeded. Raising exception in worker thread %r.", thread_id)
            raise_thread_exception(thread_id, TimeLimitExceeded)


class HardTimeLimit(TimeLimit):
    """Dramatiq's ``TimeLimit`` (same options, same defaults) raising compat's ``TimeLimitExceeded``."""

    def __init__(self, *, time_limit: float = 600000, interval: int = 1000) -> None:
        super().__init__(time_limit=time_limit, interval=interval)
        if not is_gevent_active():
            self.manager = _Deadlines(interval, logger=self.logger)


__all__ = ["HardTimeLimit"]

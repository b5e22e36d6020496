"""Celery's worker settings, with Celery's meaning, in a Dramatiq worker process.

- ``worker_concurrency``: the worker threads of each process, unless the command line gives ``-t``.
- ``worker_prefetch_multiplier``: each consumer prefetches ``multiplier x threads`` messages (0: no
  limit), unless ``dramatiq_queue_prefetch`` is set; when the project does not set it, Dramatiq's
  ``2 x threads`` stays.
- ``worker_max_tasks_per_child`` / ``worker_max_memory_per_child`` (KiB of resident memory): after the
  task that reaches the limit, the process's worker group stops gracefully (running tasks finish,
  prefetched messages go back to their queues: nothing is lost) and ``compat.supervisor`` starts fresh
  processes. Dramatiq's master cannot replace one process of a group, so the group's other processes are
  replaced too. Outside the supervisor the limits are not applied, with a warning saying so.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import threading
from typing import Any

from dramatiq.middleware import Middleware

from ..check.runtime import given_settings

logger = logging.getLogger("compat.worker")


def resident_kib() -> int:
    """This process's resident memory in KiB (``/proc``; the peak where there is no ``/proc``)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak


def threads_given_on_command_line(argv: list[str]) -> bool:
    return any(arg in ("-t", "--threads") or arg.startswith("--threads=") for arg in argv)


class WorkerSettings(Middleware):
    """Applies the app's worker settings to the Dramatiq worker of this process.

    Parameters:
      app: the facade app whose settings apply.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.done = 0
        self.max_tasks = 0
        self.max_kib = 0
        self.recycling = False
        self.worker: Any = None

    def before_worker_boot(self, broker, worker):
        from .. import supervisor  # not at import: ``python -m compat.supervisor`` imports compat first

        self.worker = worker
        given = given_settings(self.app)
        concurrency = given.get("worker_concurrency")
        if concurrency and not threads_given_on_command_line(sys.argv):
            worker.worker_threads = int(concurrency)
            if not os.environ.get("dramatiq_queue_prefetch"):  # Dramatiq's 2 x threads, for these threads
                worker.queue_prefetch = min(int(concurrency) * 2, 65535)
        multiplier = given.get("worker_prefetch_multiplier")
        if multiplier is not None and not os.environ.get("dramatiq_queue_prefetch"):
            multiplier = int(multiplier)
            wanted = multiplier * worker.worker_threads
            worker.queue_prefetch = 65535 if multiplier <= 0 else min(wanted, 65535)
        self.max_tasks = int(given.get("worker_max_tasks_per_child") or 0)
        self.max_kib = int(given.get("worker_max_memory_per_child") or 0)
        if (self.max_tasks or self.max_kib) and not supervisor.supervised():
            logger.warning(
                "worker_max_tasks_per_child/worker_max_memory_per_child are not applied: run the workers "
                "under compat.supervisor (manage.py rundramatiq does), which starts the replaced processes "
                "(see docs/compat.md#worker-settings)"
            )
            self.max_tasks = self.max_kib = 0

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if not (self.max_tasks or self.max_kib):
            return
        with self.lock:
            self.done += 1
            reason = None
            if self.max_tasks and self.done >= self.max_tasks:
                reason = f"{self.done} tasks (worker_max_tasks_per_child={self.max_tasks})"
            elif self.max_kib and resident_kib() > self.max_kib:
                reason = f"{resident_kib()} KiB resident (worker_max_memory_per_child={self.max_kib})"
            if reason is None or self.recycling:
                return
            self.recycling = True
        logger.info("replacing the worker processes after %s", reason)
        self.stop_taking_messages()
        from .. import supervisor

        supervisor.restart_group()

    def stop_taking_messages(self) -> None:
        """No thread starts another message: Dramatiq's graceful stop begins up to a second after SIGTERM,
        and the messages this process holds go back to their queues when it does."""
        worker = self.worker
        if worker is None:
            return
        for thread in [*worker.workers, *worker.consumers.values()]:
            thread.paused = True

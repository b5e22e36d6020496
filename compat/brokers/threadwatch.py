"""A worker process whose worker or consumer thread died stops itself, on any broker.

Dramatiq lets such a thread die on an unexpected error while the process keeps running, which holds that
thread's message forever and quietly shrinks the worker. The broker's maintenance thread calls
:func:`stop_if_threads_died` on each pass: the process is sent SIGTERM (running tasks finish, prefetched
messages go back), so its supervisor replaces it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

logger = logging.getLogger("compat.maintenance")

#: How often a worker prunes the dead-letter store past its retention (seconds).
PRUNE_SECONDS = 60.0


def stop_if_threads_died(worker: Any, stopping: threading.Event) -> bool:
    """Stop this process (once) if one of ``worker``'s threads has died; True when it did."""
    if worker is None or stopping.is_set():
        return False
    threads = [*getattr(worker, "workers", ()), *getattr(worker, "consumers", {}).values()]
    # A thread that stopped on request has running=False; one that died on an exception has not.
    dead = [t.name for t in threads if getattr(t, "running", True) and not t.is_alive()]
    if not dead:
        return False
    logger.critical(
        "worker thread(s) %s died; stopping this process so that it is replaced and its messages "
        "are recovered",
        ", ".join(dead),
    )
    stopping.set()
    os.kill(os.getpid(), signal.SIGTERM)
    return True

"""One log line per broker outage, not a stream of tracebacks.

While Redis is down every consumer thread of every worker process fails and restarts each few seconds,
and Dramatiq logs each attempt. The tracker below notices the first failure and the first success after
it; the filter lets the first connection-error line of an outage through, drops the repeats, and a single
"restored" line closes the outage.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("compat.broker")

REPEATED = (
    "Consumer encountered a connection error",
    "Restarting consumer in",
    "Consumer encountered an unexpected error",
)


class OutageTracker:
    """Whether this process currently cannot reach the broker, and since when."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.since: float | None = None
        self.reported = False

    def failed(self) -> None:
        with self.lock:
            if self.since is None:
                self.since = time.monotonic()
                self.reported = False

    def recovered(self) -> None:
        if self.since is None:
            return
        with self.lock:
            if self.since is None:
                return
            lasted, self.since = time.monotonic() - self.since, None
        logger.warning("broker connection restored after %.1f s", lasted)

    def should_log(self) -> bool:
        with self.lock:
            if self.since is None:
                return True
            if self.reported:
                return False
            self.reported = True
            return True


tracker = OutageTracker()


class QuietOutageFilter(logging.Filter):
    """Drops Dramatiq's repeated connection-error lines while an outage lasts."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(REPEATED):
            return True
        if "Restarting consumer in" in message:
            return tracker.since is None
        if tracker.should_log():
            record.msg, record.args, record.exc_info, record.exc_text = (
                f"lost the broker connection ({message}); retrying quietly until it is back",
                None,
                None,
                None,
            )
            return True
        return False


def install_filter() -> None:
    """Attach the filter to every handler of the root logger (worker processes call this at boot)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, QuietOutageFilter) for existing in handler.filters):
            handler.addFilter(QuietOutageFilter())

"""Celery's ``rate_limit`` task option: at most N starts per second/minute/hour **per worker process**.

Like Celery's (per worker instance), it is not a global limit: use Dramatiq's Redis rate limiters for that.
A message over the limit is put back on its queue with the delay until a slot frees up.
"""

from __future__ import annotations

import threading
import time

from dramatiq.middleware import Middleware, SkipMessage

from ..task import is_facade_task

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(rate: str | float | int | None) -> float | None:
    """Tasks per second for ``'100/s'``, ``'10/m'``, ``'1/h'`` or a number (per second); None for no limit."""
    if rate is None or rate == "":
        return None
    if isinstance(rate, (int, float)):
        return float(rate) or None
    count, _, unit = str(rate).partition("/")
    if unit and unit[0] not in UNITS:
        raise ValueError(f"invalid rate limit {rate!r}: use N/s, N/m or N/h")
    per_second = float(count) / UNITS[unit[0] if unit else "s"]
    return per_second or None


class RateLimit(Middleware):
    """A token bucket per task in this process; over the limit, the message is re-sent with a delay."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}

    def before_process_message(self, broker, message):
        task = is_facade_task(broker, message)
        if task is None:
            return
        rate = parse_rate(task.rate_limit or task.app.conf.task_default_rate_limit)
        if rate is None:
            return
        wait = self._take(message.actor_name, rate)
        if wait > 0:
            broker.enqueue(message.copy(), delay=int(wait * 1000) + 1)
            raise SkipMessage(f"rate limit of {task.rate_limit} reached; retrying in {wait:.2f} s")

    def _take(self, name: str, rate: float) -> float:
        """Seconds to wait before ``name`` may start (0 when a token was taken)."""
        now = time.monotonic()
        with self.lock:
            tokens, updated = self.buckets.get(name, (1.0, now))
            tokens = min(1.0, tokens + (now - updated) * rate)
            if tokens >= 1.0:
                self.buckets[name] = (tokens - 1.0, now)
                return 0.0
            self.buckets[name] = (tokens, now)
            return (1.0 - tokens) / rate

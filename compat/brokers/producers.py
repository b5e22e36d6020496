"""Publishing connections per process, bounded as Celery's ``broker_pool_limit`` bounds them.

Celery publishes through a pool of at most ``broker_pool_limit`` (10) broker connections per process; a
publisher that finds them all in use waits, at most ``broker_pool_acquire_timeout`` seconds (None:
forever), then gets ``OperationalError``. With 0 or None there is no pool: each publish opens a connection
and closes it after. Consumers have connections of their own, outside the limit.

``ProducerSlots`` keeps that count for a broker: ``hold()`` lends one of ``limit`` slots for one publish.
What a slot carries is the broker's business (RabbitMQ: the connection and its channels; Redis: nothing,
the permit bounds a connection pool of the same size). A Dramatiq consumer thread moving a due delayed
message to its queue is not a publish (Celery's worker keeps an ETA message on its consumer's connection
until it runs it), so it takes no slot: see ``in_consumer_thread``.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from dramatiq.worker import _ConsumerThread

from ..exceptions import ImproperlyConfigured, OperationalError

#: Celery's ``broker_pool_limit`` default.
DEFAULT_LIMIT = 10


class ProducerSlots:
    """At most ``limit`` publishes at once in this process (0: any number, each with a slot of its own).

    Parameters:
      limit: Celery's ``broker_pool_limit``; 0 or None means no pool.
      timeout: Celery's ``broker_pool_acquire_timeout``: seconds a publisher waits for a slot (None: forever).
    """

    def __init__(self, limit: int | None = DEFAULT_LIMIT, timeout: float | None = None) -> None:
        self.limit = limit or 0
        self.timeout = timeout
        self._reset()

    @classmethod
    def from_conf(cls, conf: Any) -> ProducerSlots:
        """The slots ``broker_pool_limit`` and ``broker_pool_acquire_timeout`` ask for (checked)."""
        limit = conf.get("broker_pool_limit", DEFAULT_LIMIT)
        timeout = conf.get("broker_pool_acquire_timeout")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ImproperlyConfigured(
                f"broker_pool_limit must be a whole number of connections (0 or None: no pool), not {limit!r}"
            )
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or timeout < 0):
            raise ImproperlyConfigured(
                f"broker_pool_acquire_timeout must be seconds (None: wait forever), not {timeout!r}"
            )
        return cls(limit, None if timeout is None else float(timeout))

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.free: queue.LifoQueue[SimpleNamespace] = queue.LifoQueue()
        for _ in range(self.limit):
            self.free.put(SimpleNamespace())

    @property
    def pooled(self) -> bool:
        """Whether slots (and what they carry) are kept between publishes."""
        return self.limit > 0

    @contextmanager
    def hold(self) -> Iterator[SimpleNamespace]:
        """One slot for the duration of a publish; OperationalError when none frees up in time."""
        if not self.limit:
            yield SimpleNamespace()
            return
        if os.getpid() != self.pid:  # a forked child: what the parent's threads held is not its own
            self._reset()
        try:
            slot = self.free.get(timeout=self.timeout)
        except queue.Empty:
            raise OperationalError(
                f"No broker connection for publishing became free within {self.timeout}s: all "
                f"{self.limit} are in use (broker_pool_limit={self.limit}). Raise broker_pool_limit, or "
                f"broker_pool_acquire_timeout (now {self.timeout}s) to wait longer."
            ) from None
        try:
            yield slot
        finally:
            self.free.put(slot)


def in_consumer_thread() -> bool:
    """Whether this is a Dramatiq worker's consumer thread (it moves due delayed messages, not a publish)."""
    return isinstance(threading.current_thread(), _ConsumerThread)

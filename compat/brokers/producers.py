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
import threading
import time
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
        #: The free slots. A publish pops one and appends it back (both atomic in CPython), so a publish
        #: that finds one free takes no lock; only one that finds none waits on ``_freed``.
        self.free: list[SimpleNamespace] = [SimpleNamespace() for _ in range(self.limit)]
        self._freed = threading.Condition(threading.Lock())
        self._waiting = 0

    @property
    def pooled(self) -> bool:
        """Whether slots (and what they carry) are kept between publishes."""
        return self.limit > 0

    def idle(self) -> list[SimpleNamespace]:
        """The slots no publish holds now (a broker closes what they carry)."""
        return list(self.free)

    def hold(self) -> _Held:
        """One slot for the duration of a publish (``with slots.hold() as slot``); OperationalError when
        none frees up within ``timeout``."""
        return _Held(self)

    def take(self) -> SimpleNamespace:
        if not self.limit:
            return SimpleNamespace()
        if os.getpid() != self.pid:  # a forked child: what the parent's threads held is not its own
            self._reset()
        try:
            return self.free.pop()
        except IndexError:
            return self._wait()

    def give(self, slot: SimpleNamespace) -> None:
        if not self.limit:
            return
        self.free.append(slot)
        if self._waiting:  # read after the append: a waiter counted later sees the slot when it looks
            with self._freed:
                self._freed.notify()

    def _wait(self) -> SimpleNamespace:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        with self._freed:
            self._waiting += 1  # counted before it looks again, so a give() after the look notifies
            try:
                while True:
                    try:
                        return self.free.pop()
                    except IndexError:
                        pass
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise OperationalError(
                            f"No broker connection for publishing became free within {self.timeout}s: all "
                            f"{self.limit} are in use (broker_pool_limit={self.limit}). Raise "
                            f"broker_pool_limit, or broker_pool_acquire_timeout (now {self.timeout}s) to "
                            "wait longer."
                        )
                    self._freed.wait(left)
            finally:
                self._waiting -= 1


class _Held:
    """``with slots.hold() as slot``: a class, not a generator, as it runs on every publish."""

    __slots__ = ("slots", "slot")

    def __init__(self, slots: ProducerSlots) -> None:
        self.slots = slots

    def __enter__(self) -> SimpleNamespace:
        self.slot = self.slots.take()
        return self.slot

    def __exit__(self, *exc_info: Any) -> None:
        self.slots.give(self.slot)


def in_consumer_thread() -> bool:
    """Whether this is a Dramatiq worker's consumer thread (it moves due delayed messages, not a publish)."""
    return isinstance(threading.current_thread(), _ConsumerThread)

"""The RabbitMQ connections a process publishes on: at most ``broker_pool_limit``, lent per publish.

Dramatiq's RabbitMQ broker keeps a pika connection (and its channels) per thread in ``broker.state``, a
``threading.local``: one connection for every thread that ever published, without a limit. pika's
``BlockingConnection`` must not be used by two threads at once, but a thread may use one that another
thread used before. So here each of the ``ProducerSlots``' N slots carries a connection and its channels,
and ``PublisherState`` stands in for ``broker.state``: while a thread publishes, it reads and writes the
slot it holds; otherwise (queue counts for dashboards, a consumer thread moving a due delayed message) its
own thread's state, as in Dramatiq.
"""

from __future__ import annotations

from threading import local
from typing import Any


class PublisherState:
    """``broker.state``: the held slot's attributes while this thread publishes, else the thread's own."""

    def __init__(self) -> None:
        object.__setattr__(self, "_local", local())

    def _target(self) -> Any:
        own = object.__getattribute__(self, "_local")
        slot = getattr(own, "slot", None)
        return own if slot is None else slot

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._target(), name)

    def holding(self) -> bool:
        """Whether this thread is publishing on a slot now (a publish inside it reuses the slot)."""
        return getattr(object.__getattribute__(self, "_local"), "slot", None) is not None

    def using(self, slot: Any) -> _Using:
        """Make ``slot`` this thread's state for the block (``with state.using(slot):``)."""
        return _Using(object.__getattribute__(self, "_local"), slot)


class _Using:
    """``state.using(slot)``: a class, not a generator, as it runs on every publish."""

    __slots__ = ("own", "slot")

    def __init__(self, own: local, slot: Any) -> None:
        self.own, self.slot = own, slot

    def __enter__(self) -> None:
        self.own.slot = self.slot

    def __exit__(self, *exc_info: Any) -> None:
        self.own.slot = None

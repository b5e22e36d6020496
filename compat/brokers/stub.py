"""The in-memory broker for ``memory://``: Dramatiq's StubBroker behind the facade's seam.

For tests and eager-ish local runs in one process; nothing survives the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

from .base import FacadeBroker, QueueDepth, QueueInspector, check_size


class CompatStubBroker(FacadeBroker, StubBroker):
    """In-memory broker for ``memory://``; ``enqueue_many`` simply loops."""

    max_message_bytes = 0

    def enqueue(self, message, *, delay=None):
        if self.max_message_bytes:
            check_size(message.actor_name, len(message.encode()), self.max_message_bytes)
        return super().enqueue(message, delay=delay)

    def inspector(self) -> QueueInspector:
        return StubQueueInspector(self)

    def purge(self, queue_names: Iterable[str]) -> int:
        total = 0
        for base in {name.removesuffix(".DQ") for name in queue_names}:
            for name in (base, dq_name(base)):
                queue = self.queues.get(name)
                while queue is not None and not queue.empty():
                    queue.get_nowait()
                    queue.task_done()
                    total += 1
        return total


class StubQueueInspector(QueueInspector):
    """Depths of a ``CompatStubBroker``'s in-process queues (unfinished minus waiting is in progress)."""

    def __init__(self, broker: StubBroker) -> None:
        self.broker = broker

    def depths(self, queues: Iterable[str], dead: Mapping[str, int] | None = None) -> list[QueueDepth]:
        found = []
        for name in queues:
            ready_queue = self.broker.queues.get(name)
            delayed_queue = self.broker.queues.get(dq_name(name))
            ready = ready_queue.qsize() if ready_queue is not None else 0
            delayed = delayed_queue.qsize() if delayed_queue is not None else 0
            unfinished = sum(q.unfinished_tasks for q in (ready_queue, delayed_queue) if q is not None)
            found.append(
                QueueDepth(
                    name=name,
                    ready=ready,
                    delayed=delayed,
                    in_progress=max(0, unfinished - ready - delayed),
                    dead=(dead or {}).get(name, 0),
                )
            )
        return found


def make(app: Any, url: str, middleware: list) -> CompatStubBroker:
    """The broker for a ``memory://`` URL."""
    broker = CompatStubBroker(middleware=middleware)
    broker.max_message_bytes = int(app.conf.task_message_max_bytes or 0)
    return broker

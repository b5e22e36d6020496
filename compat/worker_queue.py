"""Dramatiq's in-process work queue, taught that a facade task's Celery ``priority`` may be None.

Dramatiq's consumer thread orders the messages a worker process prefetched by ``actor.priority``. A facade
task's ``priority`` is Celery's (``None`` unless an option, a base class, an annotation or
``task_default_priority`` gives one, as Celery reads it), and Celery's priority is delivered by the broker
(the Redis lanes), not by this in-process order. So the work queue item reads an unset priority as 0 (the
order plain Dramatiq actors without a priority have); comparing None with a number would stop the
consumer thread.
"""

from __future__ import annotations

import dramatiq.worker as _worker

_Item = _worker._WorkQueueItem


class WorkQueueItem(_Item):
    """Dramatiq's work queue item with an unset (None) priority read as 0."""

    __slots__ = ()

    def __init__(self, priority, message, *args, **kwargs) -> None:
        if not isinstance(priority, (int, float)):
            priority = 0
        super().__init__(priority, message, *args, **kwargs)


def install() -> None:
    """Use :class:`WorkQueueItem` in Dramatiq's worker (idempotent)."""
    if not issubclass(_worker._WorkQueueItem, WorkQueueItem):
        _worker._WorkQueueItem = WorkQueueItem

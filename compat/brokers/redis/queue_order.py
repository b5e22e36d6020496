"""``broker_transport_options['queue_order_strategy']``: which of its queues a worker process serves first.

kombu's Redis transport fetches for all of a worker's queues with one ``BRPOP`` over their lists, ordered
by priority step first and queue second (``A, B, A.p3, B.p3, ...``): with ``priority`` in the worker's
order (``-Q A,B``), so B's messages at a step are taken only while A has none at that step or above; with
``sorted`` in name order; with ``round_robin`` (the default) the queue that just delivered moves last.

Here each queue has a consumer thread of its own, serving its queues side by side (as ``round_robin``).
Under ``priority`` and ``sorted`` a consumer fetches a lane only while no earlier queue's consumer in this
process found ready messages at that lane's step or above at its last fetch (one that has not fetched yet
counts as having found some); when it may fetch nothing it checks again every ``GATED_WAIT`` seconds,
without a call to Redis. Messages a consumer fetched before an earlier queue filled up again run in the
order they came, as Celery runs the messages it had already reserved.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from dramatiq.middleware import Middleware

from ...exceptions import ImproperlyConfigured

STRATEGIES = ("round_robin", "priority", "sorted")
#: Seconds between two looks of a consumer that an earlier queue keeps from fetching.
GATED_WAIT = 0.05


def top_step(broker: Any) -> int:
    """The highest priority step (the queue's own list)."""
    return broker.priority_steps[0] if broker.priority_steps else 0


def lane_step(broker: Any, lane: str) -> int:
    """The priority step of a lane (``''``: the top step, ``'p3'``: 3)."""
    return int(lane[1:]) if lane else top_step(broker)


def strategy_of(conf: Any) -> str:
    """The app's ``queue_order_strategy`` (``round_robin`` when unset); an unknown one is refused."""
    options = conf.get("broker_transport_options")
    strategy = options.get("queue_order_strategy", "round_robin") if isinstance(options, Mapping) else None
    strategy = strategy or "round_robin"
    if strategy not in STRATEGIES:
        raise ImproperlyConfigured(
            f"broker_transport_options['queue_order_strategy'] = {strategy!r}: "
            f"use one of {', '.join(STRATEGIES)}"
        )
    return strategy


def ordered(strategy: str, given: list[str] | None, consumed: Iterable[str], default_queue: str) -> list[str]:
    """The worker's queues, first served first: ``-Q``'s order (``sorted``: by name); without ``-Q``,
    the default queue first, then the others by name."""
    if strategy == "sorted":
        return sorted(set(consumed))
    if given:
        return list(dict.fromkeys(given))
    rest = sorted(set(consumed) - {default_queue})
    return [default_queue, *rest] if default_queue in set(consumed) else rest


class QueueOrder(Middleware):
    """Gates each consumer's fetches by the queues before it (``priority``, ``sorted``); ``round_robin``
    changes nothing.

    Parameters:
      strategy: one of ``STRATEGIES``.
      default_queue: the app's ``task_default_queue`` (first when the command line lists no queues).
    """

    def __init__(self, strategy: str, default_queue: str) -> None:
        self.strategy = strategy
        self.default_queue = default_queue
        self.rank: dict[str, int] = {}
        self.order: list[str] = []

    def before_worker_boot(self, broker, worker):
        if self.strategy == "round_robin":
            return
        from ...middleware.lifecycle import dramatiq_options

        consumed = [
            name for name in broker.get_declared_queues()
            if not worker.consumer_whitelist or name in worker.consumer_whitelist
        ]
        given = dramatiq_options(sys.argv[1:]).get("queues")
        if not given and worker.consumer_whitelist:
            given = sorted(worker.consumer_whitelist)
        self.order = [name for name in ordered(self.strategy, given, consumed, self.default_queue)
                      if name in consumed]
        self.rank = {name: index for index, name in enumerate(self.order)}

    def fetch_below(self, broker: Any, queue_name: str) -> int | None:
        """The priority step from which ``queue_name``'s consumer must not fetch now (None: no limit)."""
        rank = self.rank.get(queue_name)
        if not rank:  # the first queue, an unranked one, a delay queue, or round_robin
            return None
        below = None
        for earlier in self.order[:rank]:
            consumer = broker.consumers_by_queue.get(earlier)
            top = top_step(broker) if consumer is None else consumer.top_ready
            if top is not None and (below is None or top < below):
                below = top
        return below

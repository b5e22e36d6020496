"""Queue depths read from the Redis broker's layout, for dashboards: two pipelined round trips in all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dramatiq.common import dq_name

from ..base import QueueDepth, QueueInspector
from .lanes import lane_queue


class RedisQueueInspector(QueueInspector):
    """Depths of a ``CompatRedisBroker``'s queues, over all their priority lanes.

    ``ready`` counts the queue's list and its lanes; ``delayed`` the ``.DQ`` lists plus delayed messages
    workers hold in memory until due; ``in_progress`` what live workers hold from the queue (running or
    prefetched), read from their ack sets.
    """

    def __init__(self, broker: Any) -> None:
        self.broker = broker

    def depths(self, queues: Iterable[str], dead: Mapping[str, int] | None = None) -> list[QueueDepth]:
        broker, queues, dead = self.broker, list(queues), dead or {}
        with broker.client.pipeline(transaction=False) as pipe:
            pipe.zrange(broker.heartbeats_key, 0, -1)
            for queue in queues:
                pipe.smembers(broker.lanes_key(queue))
            first = pipe.execute()
        holders = [item.decode() for item in first[0]]
        layout: list[tuple[str, list[str]]] = []
        for queue, lanes in zip(queues, first[1:], strict=True):
            layout.append((queue, ["", *sorted(lane.decode() for lane in lanes)]))
        with broker.client.pipeline(transaction=False) as pipe:
            for queue, lanes in layout:
                for lane in lanes:
                    name = lane_queue(queue, lane)
                    pipe.llen(broker.key(name))
                    pipe.llen(broker.key(dq_name(name)))
                    for holder in holders:
                        pipe.scard(broker.acks_key(holder, name))
                        pipe.scard(broker.acks_key(holder, dq_name(name)))
            counts = iter(pipe.execute())
        found = []
        for queue, lanes in layout:
            depth = QueueDepth(name=queue, dead=dead.get(queue, 0), lanes=[lane for lane in lanes if lane])
            for _ in lanes:
                depth.ready += next(counts)
                depth.delayed += next(counts)
                for _ in holders:
                    depth.in_progress += next(counts)
                    depth.delayed += next(counts)
            found.append(depth)
        return found

"""The Redis broker (``redis://``, ``rediss://``, ``unix://``): the one place that knows its key layout.

``broker`` (enqueue, lanes), ``consumer`` (fetch, wake-up, acks), ``lanes`` (priority to lane),
``maintenance`` (dead workers' messages back, poison messages out), ``startup`` (a worker's first
connection, Celery's retry policy), ``inspector`` (queue depths) and the ``.lua`` scripts they run.
"""

from __future__ import annotations

from typing import Any

import redis

from ..producers import ProducerSlots
from .broker import CompatRedisBroker
from .maintenance import Maintenance
from .producers import producer_client
from .queue_order import QueueOrder, strategy_of
from .startup import StartupConnection


def make(app: Any, url: str, middleware: list) -> CompatRedisBroker:
    """The broker for a Redis URL, with the maintenance that recovers dead workers' messages.

    ``broker_connection_timeout`` bounds each connection attempt; a worker's first connection is retried
    as ``broker_connection_retry_on_startup``/``broker_connection_max_retries`` say (``startup.py``).
    Publishes use connections of their own, at most ``broker_pool_limit`` of them, waiting at most
    ``broker_pool_acquire_timeout`` for one (``producers.py``); consumers are not limited.
    ``broker_transport_options['queue_order_strategy']`` orders the worker's queues (``queue_order.py``).
    """
    from ...deadletters import bury_raw

    timeout = app.conf.get("broker_connection_timeout")
    connect = {"socket_connect_timeout": float(timeout) if timeout else None}
    pool = redis.ConnectionPool.from_url(url, **connect)
    producers = ProducerSlots.from_conf(app.conf)
    order = QueueOrder(strategy_of(app.conf), app.conf.task_default_queue)
    return CompatRedisBroker(
        connection_pool=pool,
        producers=producers,
        producer_client=producer_client(url, producers, **connect),
        queue_order=order,
        middleware=[*middleware, StartupConnection(app, url), Maintenance(app), order],
        namespace=app.conf.broker_namespace,
        idle_wait=float(app.conf.worker_idle_wait),
        heartbeat_timeout=int(float(app.conf.broker_heartbeat_timeout) * 1000),
        priority_steps=app.conf.priority_steps,
        max_message_bytes=int(app.conf.task_message_max_bytes or 0),
        unfit=lambda rid, data, reason: bury_raw(app, data, reason, raw_id=rid, runnable=False),
    )


__all__ = ["CompatRedisBroker", "Maintenance", "make"]

"""Building the facade's Dramatiq broker with its middleware, and the worker entry point.

``python -m dramatiq compat.worker`` is not needed: any module that creates a compat app and declares tasks
is a worker module for the stock ``dramatiq`` CLI, because creating the broker makes it Dramatiq's global.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from . import serialization
from .broker import CompatRedisBroker, check_size
from .exceptions import ImproperlyConfigured
from .hooks import DefinedHooks
from .maintenance import Maintenance, bury_raw
from .middleware import (
    CanvasContinuation,
    CeleryRetries,
    DeadLetters,
    RateLimit,
    Revocation,
    SoftTimeLimit,
    TaskState,
)
from .middleware.metrics import WorkerMetrics
from .task import Task


def facade_middleware(app: Any = None) -> list:
    """Dramatiq's defaults (for plain actors) plus the facade's, in the order their hooks must run.

    After-hooks run in reverse order: TaskState stores the outcome first, then CanvasContinuation
    continues the canvas (a chord body reads its header's stored results), then CeleryRetries decides
    whether the message is acknowledged or dead-lettered. WorkerMetrics is first so that the runtime it
    records spans every other hook.
    """
    return [
        WorkerMetrics(app),
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        CeleryRetries(),
        CanvasContinuation(),
        Revocation(),
        RateLimit(),
        TaskState(app),
        SoftTimeLimit(),
        DeadLetters(app),
        Maintenance(app),
    ]


class _FacadeResultsNotice(logging.Filter):
    """Drops Dramatiq's "returned a value ... no Results middleware" warning for facade tasks.

    Facade tasks store their results in the app's state store, so that warning is wrong for them; plain
    actors on the same broker still get it.
    """

    def __init__(self, broker: dramatiq.Broker) -> None:
        super().__init__()
        self.broker = broker

    def filter(self, record: logging.LogRecord) -> bool:
        # Only that warning is formatted here: formatting other records (a message with malformed fields)
        # may raise, and an exception in a filter would kill the worker thread that logs.
        if "returned a value that is not None" not in str(record.msg):
            return True
        text = record.getMessage()
        name = text.split("'", 2)[1] if text.count("'") >= 2 else ""
        return not isinstance(self.broker.actors.get(name), Task)


class CompatStubBroker(DefinedHooks, StubBroker):
    """In-memory broker for ``memory://``; ``enqueue_many`` simply loops."""

    max_message_bytes = 0

    def enqueue(self, message, *, delay=None):
        if self.max_message_bytes:
            check_size(message.actor_name, len(message.encode()), self.max_message_bytes)
        return super().enqueue(message, delay=delay)

    def enqueue_many(self, items, *, owned=False):
        return [self.enqueue(message, delay=delay) for message, delay in items]


def make_broker(app: Any) -> dramatiq.Broker:
    """The broker for ``app.conf.broker_url`` (Redis, or in-memory for ``memory://``)."""
    dramatiq.set_encoder(serialization.MessageEncoder())
    url = app.conf.broker_url or "redis://localhost:6379/0"
    middleware = facade_middleware(app)
    if url.startswith("memory://"):
        broker: dramatiq.Broker = CompatStubBroker(middleware=middleware)
        broker.max_message_bytes = int(app.conf.task_message_max_bytes or 0)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        broker = CompatRedisBroker(
            url=url,
            middleware=middleware,
            namespace=app.conf.broker_namespace,
            idle_wait=float(app.conf.worker_idle_wait),
            heartbeat_timeout=int(float(app.conf.broker_heartbeat_timeout) * 1000),
            max_message_bytes=int(app.conf.task_message_max_bytes or 0),
            unfit=lambda rid, data, reason: bury_raw(app, data, reason, raw_id=rid, runnable=False),
        )
    else:
        raise ImproperlyConfigured(
            f"Unsupported broker URL {url!r}: use redis://, rediss://, unix:// or memory://"
        )
    logging.getLogger("dramatiq.worker.WorkerThread").addFilter(_FacadeResultsNotice(broker))
    return broker

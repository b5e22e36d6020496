"""Facade behaviours as Dramatiq middleware, one job each, and the one order they run in."""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from ..control.worker import WorkerControl
from .canvas import CanvasContinuation
from .dead_letters import DeadLetters
from .lifecycle import WorkerLifecycle
from .metrics import WorkerMetrics
from .rate_limit import RateLimit
from .retries import CeleryRetries
from .revocation import Revocation
from .signals import TaskReceived, TaskSignals
from .soft_time_limit import SoftTimeLimit
from .state import TaskState
from .worker_settings import WorkerSettings


def facade_middleware(app: Any = None) -> list:
    """Dramatiq's defaults (for plain actors) plus the facade's, in the order their hooks must run.

    After-hooks run in reverse order: TaskState stores the outcome first, then CanvasContinuation
    continues the canvas (a chord body reads its header's stored results), then CeleryRetries decides
    whether the message is acknowledged or dead-lettered, then TaskSignals calls the handlers and sends
    the outcome's signals (Celery's order); TaskReceived follows the revocation check. WorkerMetrics
    is first so that the runtime it records spans every other hook. WorkerControl is last: a task it
    terminates is running its body, not another middleware's hook (its after-hook, the first to run,
    ends that). WorkerLifecycle follows it, so ``worker_ready`` is sent once the node answers control
requests. A broker's factory may append its own (the Redis broker's maintenance).
    """
    return [
        WorkerMetrics(app),
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        TaskSignals(),
        CeleryRetries(),
        CanvasContinuation(),
        Revocation(),
        RateLimit(),
        TaskReceived(),
        TaskState(app),
        SoftTimeLimit(),
        DeadLetters(app),
        WorkerSettings(app),
        WorkerControl(app),
        WorkerLifecycle(app),
    ]


__all__ = [
    "CanvasContinuation",
    "DeadLetters",
    "RateLimit",
    "CeleryRetries",
    "Revocation",
    "SoftTimeLimit",
    "TaskReceived",
    "TaskSignals",
    "TaskState",
    "WorkerLifecycle",
    "WorkerMetrics",
    "WorkerSettings",
    "facade_middleware",
]

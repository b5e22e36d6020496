"""Records every finished message (task, id, state, runtime, retries, queue) for the ops dashboard.

It makes no Redis call per message and builds little on the worker thread: the message's fields, its
outcome and runtime go to an in-process buffer that ``compat.metrics`` makes into events and flushes once per
``worker_metrics_interval`` in one pipeline, together with this worker's heartbeat. It is first
in the middleware list, so the runtime it measures is the whole time the worker spent on the message.
Turn it off with ``worker_metrics = False`` (read when the worker boots). Each heartbeat written sends
Celery's ``heartbeat_sent`` (sender: the recorder), as Celery's worker does with each event heartbeat.
"""

from __future__ import annotations

import time
from typing import Any

from dramatiq.middleware import Middleware

from .. import signals
from ..exceptions import Ignore, Reject, Retry
from ..metrics import MetricsRecorder, recorder_for


def outcome(exception: BaseException | None) -> str:
    """The Celery state name a message's processing ended in."""
    if exception is None:
        return "SUCCESS"
    if isinstance(exception, Retry):
        return "RETRY"
    if isinstance(exception, Ignore):
        return "IGNORED"
    if isinstance(exception, Reject):
        return "REJECTED"
    return "FAILURE"


class WorkerMetrics(Middleware):
    """Buffers task events and runs the flush thread of each worker process.

    Parameters:
      app: the compat app (its ``worker_metrics*`` settings are read at worker boot).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.recorder: MetricsRecorder | None = None
        self.started: dict[int, float] = {}  # id(message) -> start, for the message's own worker thread

    def after_worker_boot(self, broker, worker):
        if self.app is None:
            return
        conf = self.app.conf
        recorder = recorder_for(self.app, broker) if conf.worker_metrics else None
        if recorder is None:
            return
        recorder.on_heartbeat = lambda: signals.heartbeat_sent.send(sender=recorder)
        recorder.queues = lambda: {name.removesuffix(".DQ") for name in list(worker.consumers)}
        recorder.busy = lambda: not self._holds_nothing(worker)
        recorder.start(float(conf.worker_metrics_interval))
        self.recorder = recorder

    def _holds_nothing(self, worker: Any) -> bool:
        """Whether this process has no message in hand: none running or waiting for a thread, and every
        consumer says it is ``idle`` (connected, holding no delivery; only consumers of a broker that
        pushes say so)."""
        if self.started or worker.work_queue.unfinished_tasks:
            return False
        return all(getattr(thread.consumer, "idle", False) for thread in list(worker.consumers.values()))

    def before_worker_shutdown(self, broker, worker):
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.stop()

    def before_process_message(self, broker, message):
        if self.recorder is not None:
            self.started[id(message)] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._record(message, outcome(exception))

    def after_skip_message(self, broker, message):
        self._record(message, "REVOKED")

    def _record(self, message: Any, state: str) -> None:
        started = self.started.pop(id(message), None)
        recorder = self.recorder
        if recorder is not None:
            recorder.finished(
                message,
                state,
                None if started is None else round(time.perf_counter() - started, 6),
            )

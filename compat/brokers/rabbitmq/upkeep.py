"""The RabbitMQ worker's upkeep: what the Redis broker's maintenance does that RabbitMQ does not do itself.

RabbitMQ gives a dead worker's messages back on its own (the connection closes), so there is no heartbeat
to keep and no worker to judge. What is left: one outage line per broker outage in the logs, the watch on
the worker's own threads (a dead thread stops the process so its supervisor replaces it), and pruning the
dead-letter store once a minute. None of it calls RabbitMQ.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from dramatiq.middleware import Middleware

from ...deadletters import store_for
from ..outage import install_filter
from ..threadwatch import PRUNE_SECONDS, logger, stop_if_threads_died


class Upkeep(Middleware):
    """The thread watch and dead-letter pruning in each worker process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.worker: Any = None
        self.thread: threading.Thread | None = None

    def before_worker_boot(self, broker, worker):
        # A worker acknowledges its message after what the task published (a chain's next step, a
        # retry) is confirmed, so its sends wait for their confirms (brokers/rabbitmq/confirms.py).
        broker.confirm_each = True

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def after_worker_boot(self, broker, worker):
        install_filter()
        self.worker = worker
        self.stopping.clear()
        self.thread = threading.Thread(target=self._watch, name="compat-upkeep", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        interval = float(self.app.conf.broker_maintenance_interval)
        pruned_at = 0.0
        while not stop_if_threads_died(self.worker, self.stopping):
            if time.monotonic() - pruned_at >= PRUNE_SECONDS:
                pruned_at = time.monotonic()
                try:
                    store = store_for(self.app)
                    if store is not None:
                        store.prune()
                except Exception:
                    logger.debug("could not prune the dead letters", exc_info=True)
            if self.stopping.wait(interval):
                return

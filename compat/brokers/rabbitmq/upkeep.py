"""The RabbitMQ worker's upkeep: what the Redis broker's maintenance does that RabbitMQ does not do itself.

RabbitMQ gives a dead worker's messages back on its own (the connection closes), so there is no heartbeat
to keep and no worker to judge. What is left: one outage line per broker outage in the logs, the watch on
the worker's own threads (a dead thread stops the process so its supervisor replaces it), and pruning the
dead-letter store once a minute. None of it calls RabbitMQ.
"""

from __future__ import annotations

import threading
import time

from ...deadletters import store_for
from ..outage import install_filter
from ..redis.maintenance import PRUNE_SECONDS, Maintenance, logger


class Upkeep(Maintenance):
    """The thread watch and dead-letter pruning in each worker process."""

    def after_worker_boot(self, broker, worker):
        install_filter()
        self.worker = worker
        self.stopping.clear()
        self.thread = threading.Thread(target=self._watch, name="compat-upkeep", daemon=True)
        self.thread.start()

    def after_worker_shutdown(self, broker, worker):
        return None

    def _watch(self) -> None:
        interval = float(self.app.conf.broker_maintenance_interval)
        pruned_at = 0.0
        while not self._threads_died():
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

"""The Redis broker's maintenance, run on a clock, not on a dice roll.

Stock Dramatiq gives a dead worker's unacked messages back only during maintenance that runs on a random
0.1% of broker calls, which can take hours on an idle system. Here every worker process runs it every
``broker_maintenance_interval`` seconds: workers whose heartbeat is older than
``broker_heartbeat_timeout`` are dead, and the messages they held go back to their queues. Each time a
message comes back this way its redelivery count grows; past ``worker_max_redeliveries`` it is a poison
message (it kills whatever runs it) and goes to the dead-letter store instead. Dead letters past their
retention are pruned, and the process refreshes its own heartbeat even when all its consumers are busy.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from dramatiq.middleware import Middleware

from ...deadletters import bury_raw, store_for
from ..outage import install_filter, tracker

logger = logging.getLogger("compat.maintenance")


class Maintenance(Middleware):
    """Starts the maintenance thread in each worker process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def after_worker_boot(self, broker, worker):
        install_filter()
        self.stopping.clear()
        self.thread = threading.Thread(
            target=self._run, args=(broker,), name="compat-maintenance", daemon=True
        )
        self.thread.start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def _run(self, broker: Any) -> None:
        interval = float(self.app.conf.broker_maintenance_interval)
        connected_since: float | None = None
        while not self.stopping.wait(interval):
            try:
                # Right after an outage every worker looks dead (nobody could heartbeat): only judge others
                # once this process itself has been connected for a whole heartbeat timeout.
                trusted = connected_since is not None and (
                    time.monotonic() - connected_since >= float(self.app.conf.broker_heartbeat_timeout)
                )
                run_maintenance(self.app, broker, recover=trusted)
                if connected_since is None:
                    connected_since = time.monotonic()
            except Exception:
                tracker.failed()
                connected_since = None


def run_maintenance(app: Any, broker: Any, recover: bool = True) -> dict[str, int]:
    """One maintenance pass; returns counts of what it did."""
    client = broker.client
    now = int(time.time() * 1000)
    heartbeats = broker.heartbeats_key
    client.zadd(heartbeats, {broker.broker_id: now})
    timeout_ms = int(float(app.conf.broker_heartbeat_timeout) * 1000)
    dead = client.zrangebyscore(heartbeats, 0, now - timeout_ms) if recover else []
    done = {"dead_workers": 0, "requeued": 0, "poisoned": 0, "pruned": 0}
    for worker_id in dead:
        worker_id = worker_id.decode()
        requeued, poisoned = recover_worker(app, broker, worker_id)
        done["dead_workers"] += 1
        done["requeued"] += requeued
        done["poisoned"] += poisoned
        client.zrem(heartbeats, worker_id)
    store = store_for(app)
    if store is not None:
        done["pruned"] = store.prune()
    if done["dead_workers"]:
        logger.warning(
            "recovered %(requeued)d messages and %(poisoned)d poison messages from "
            "%(dead_workers)d dead worker(s)",
            done,
        )
    return done


def recover_worker(app: Any, broker: Any, worker_id: str) -> tuple[int, int]:
    """Give a dead worker's held messages back to their queues; bury the ones that keep killing workers."""
    client = broker.client
    prefix = broker.acks_key(worker_id, "")
    limit = int(app.conf.worker_max_redeliveries)
    requeued = poisoned = 0
    for key in client.scan_iter(match=prefix + "*", count=500):
        queue = key.decode()[len(prefix) :]
        delayed = queue.endswith(".DQ")
        held = client.scard(key)
        result = broker.recover_script(
            keys=[key, broker.key(queue), broker.key(f"{queue}.msgs"), broker.key("__redeliveries__")],
            args=[-1 if delayed else limit, 7 * 86400 * 1000],
        )
        for data, count in zip(result[::2], result[1::2], strict=True):
            bury_raw(app, data, f"poison: its worker died on each of {int(count)} deliveries")
            poisoned += 1
        requeued += held - len(result) // 2
    return requeued, poisoned

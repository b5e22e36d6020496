"""Broker maintenance that runs on a clock, not on a dice roll.

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

from dramatiq.message import Message
from dramatiq.middleware import Middleware

from .outage import install_filter, tracker

logger = logging.getLogger("compat.maintenance")

_RECOVER = """
local ids = redis.call('SMEMBERS', KEYS[1])
local poisoned = {}
local limit = tonumber(ARGV[1])
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[3], id)
  if data then
    local count = redis.call('HINCRBY', KEYS[4], id, 1)
    if limit >= 0 and count > limit then
      redis.call('HDEL', KEYS[3], id)
      table.insert(poisoned, data)
      table.insert(poisoned, count)
    else
      redis.call('RPUSH', KEYS[2], id)
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return poisoned
"""


class Maintenance(Middleware):
    """Starts the maintenance thread in each worker process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def after_worker_boot(self, broker, worker):
        install_filter()
        if getattr(broker, "client", None) is None:
            return
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
    heartbeats = f"{broker.namespace}:__heartbeats__"
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
    from .deadletters import store_for

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
    namespace = broker.namespace
    prefix = f"{namespace}:__acks__.{worker_id}."
    script = client.register_script(_RECOVER)
    limit = int(app.conf.worker_max_redeliveries)
    requeued = poisoned = 0
    for key in client.scan_iter(match=prefix + "*", count=500):
        queue = key.decode()[len(prefix) :]
        delayed = queue.endswith(".DQ")
        held = client.scard(key)
        result = script(
            keys=[key, f"{namespace}:{queue}", f"{namespace}:{queue}.msgs", f"{namespace}:__redeliveries__"],
            args=[-1 if delayed else limit, 7 * 86400 * 1000],
        )
        for data, count in zip(result[::2], result[1::2], strict=True):
            bury_raw(app, data, f"poison: its worker died on each of {int(count)} deliveries")
            poisoned += 1
        requeued += held - len(result) // 2
    return requeued, poisoned


def bury_raw(app: Any, data: bytes, reason: str) -> None:
    """Dead-letter a raw message taken off a queue (a poison message, or one that cannot be decoded)."""
    from .alerts import alert_dead_letter
    from .deadletters import build_record, store_for
    from .exceptions import WorkerLostError

    store = store_for(app)
    try:
        message = Message.decode(data)
    except Exception:
        message = None
    record = build_record(message, reason=reason, exception=WorkerLostError(reason), raw=data)
    record["traceback"] = None
    if store is not None:
        store.add(record)
    if message is not None and app.backend.enabled:
        from .middleware.state import failure_meta

        meta = failure_meta(message.message_id, WorkerLostError(reason))
        meta["traceback"] = None
        app.backend.set_state(message.message_id, meta)
    alert_dead_letter(app, record)

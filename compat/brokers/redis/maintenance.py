"""The Redis broker's maintenance, run on a clock, not on a dice roll: it finds dead workers in seconds.

Stock Dramatiq gives a dead worker's unacked messages back only during maintenance that runs on a random
0.1% of broker calls, which can take hours on an idle system. Here every worker process runs a pass every
``broker_maintenance_interval`` seconds (2), one Redis call when there is nothing to do: it refreshes its
own heartbeat and learns which workers are dead, two ways:

- a worker process on this same host (same boot and PID namespace) whose PID no longer exists is dead
  for certain, at once: a SIGKILL, an OOM kill or a segfault is recovered at the next pass;
- any other worker is dead when its heartbeat is older than ``broker_heartbeat_timeout`` (10 s): a host
  that vanished. Right after a Redis outage every worker looks dead that way (nobody could heartbeat),
  so a process only judges others by their heartbeats while it has been connected for a whole timeout
  and the Redis server has been up that long.

The messages a dead worker held go back to their queues, with a wake token so idle consumers start them
at once. Each time a message comes back this way its redelivery count grows; past
``worker_max_redeliveries`` it is a poison message (it kills whatever runs it) and goes to the
dead-letter store instead. Dead letters past their retention are pruned once a minute.

The same thread watches the worker's own threads: Dramatiq lets a worker or consumer thread die on an
unexpected error while the process keeps heartbeating, which would hold that thread's message forever
and quietly shrink the worker. A dead thread makes the process stop (SIGTERM to itself: running tasks
finish, prefetched messages are requeued), so its supervisor replaces it and the message is recovered.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any

from dramatiq.middleware import Middleware

from ...deadletters import bury_raw, store_for
from ...utils.procs import exited
from ..outage import install_filter, tracker
from ..threadwatch import PRUNE_SECONDS, stop_if_threads_died

logger = logging.getLogger("compat.maintenance")


def host_identity() -> str:
    """This host and PID namespace: processes with the same identity can check each other's PIDs.

    Empty where it cannot be told (no /proc): such workers are judged by their heartbeats only.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            boot_id = boot.read().strip()
        return f"{socket.gethostname()}|{boot_id}|{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID runs here (one we may not signal still runs; a zombie does not:
    a worker process whose master cannot reap it, Dramatiq's master stuck, holds its messages for
    nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not exited(pid)


class Maintenance(Middleware):
    """Starts the maintenance thread in each worker process and registers the process on its host."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.worker: Any = None

    def after_worker_boot(self, broker, worker):
        install_filter()
        if getattr(broker, "client", None) is None:
            return
        self.worker = worker
        self.stopping.clear()
        state = PassState(host_identity())
        try:
            register(broker, state.identity)
            state.registered = True
        except Exception:
            tracker.failed()  # the first pass registers once Redis answers
        self.thread = threading.Thread(
            target=self._run, args=(broker, state), name="compat-maintenance", daemon=True
        )
        self.thread.start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()
        if getattr(broker, "client", None) is None:
            return
        try:
            broker.wake_for_shutdown()
        except Exception:  # Redis gone: the consumers notice within idle_wait, as before
            logger.debug("could not wake the consumers of worker %s", broker.broker_id, exc_info=True)

    def after_worker_shutdown(self, broker, worker):
        """A worker that stopped cleanly has requeued what it held: it leaves no heartbeat to judge."""
        if getattr(broker, "client", None) is None:
            return
        try:
            unregister(broker, broker.broker_id, host_identity())
        except Exception:
            logger.debug("could not unregister worker %s", broker.broker_id, exc_info=True)

    def _run(self, broker: Any, state: PassState) -> None:
        interval = float(self.app.conf.broker_maintenance_interval)
        while True:  # the first pass at once: a worker that died while this one was starting is found now
            if self._threads_died():
                return
            try:
                pending = getattr(broker, "acks", None)
                if pending is not None:
                    pending.flush()  # any acknowledgement no fetch carried (a bound, not the usual path)
                run_maintenance(self.app, broker, state=state)
            except Exception:
                tracker.failed()
                state.failed()
            if self.stopping.wait(interval):
                return

    def _threads_died(self) -> bool:
        """Stop this process (once) if one of its worker or consumer threads has died."""
        return stop_if_threads_died(self.worker, self.stopping)


class PassState:
    """What one maintenance thread remembers between passes."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.failed_at: float | None = None  # monotonic time of the last failed pass
        self.registered = False
        self.pruned_at = 0.0

    def failed(self) -> None:
        self.failed_at = time.monotonic()
        self.registered = False

    def connected_long_enough(self, timeout: float) -> bool:
        return self.failed_at is None or time.monotonic() - self.failed_at >= timeout


def _host_key(broker: Any, identity: str) -> str:
    return broker.key(f"__hosts__:{identity}")


def register(broker: Any, identity: str) -> None:
    """Record this worker process's PID under its host identity (and in the heartbeats)."""
    with broker.client.pipeline(transaction=False) as pipe:
        pipe.zadd(broker.heartbeats_key, {broker.broker_id: int(time.time() * 1000)})
        if identity:
            pipe.hset(_host_key(broker, identity), broker.broker_id, json.dumps({"pid": os.getpid()}))
        pipe.execute()


def unregister(broker: Any, worker_id: str, identity: str) -> None:
    """Forget a worker: its heartbeat and its entry under ``identity``."""
    with broker.client.pipeline(transaction=False) as pipe:
        pipe.zrem(broker.heartbeats_key, worker_id)
        if identity:
            pipe.hdel(_host_key(broker, identity), worker_id)
        pipe.execute()


def _redis_up_for(client: Any, seconds: float) -> bool:
    try:
        return float(client.info("server").get("uptime_in_seconds", 0)) >= seconds
    except Exception:
        return False


def _stale_heartbeats_trusted(client: Any, state: PassState | None, timeout: float) -> bool:
    """Whether a stale heartbeat means a dead worker: not when this process or Redis itself has been
    up for less than the heartbeat timeout (asked only when a heartbeat is stale: ``INFO`` is not free
    for an idle worker)."""
    return state is None or (state.connected_long_enough(timeout) and _redis_up_for(client, timeout))


def run_maintenance(
    app: Any, broker: Any, recover: bool = True, state: PassState | None = None
) -> dict[str, int]:
    """One maintenance pass; returns counts of what it did.

    Parameters:
      recover: False only refreshes the heartbeat (and prunes): no worker is judged dead.
      state: the calling thread's memory of earlier passes; None for a one-off pass, which trusts
        heartbeats as they are.
    """
    client = broker.client
    identity = state.identity if state is not None else host_identity()
    if state is not None and not state.registered:
        register(broker, identity)
        state.registered = True
    now = int(time.time() * 1000)
    timeout = float(app.conf.broker_heartbeat_timeout)
    stale, here = broker_pass(broker, identity, now, now - int(timeout * 1000))
    dead = {worker for worker, pid in here.items() if worker != broker.broker_id and not pid_alive(pid)}
    stale -= {broker.broker_id}
    if stale and _stale_heartbeats_trusted(client, state, timeout):
        dead |= stale
    done = {"dead_workers": 0, "requeued": 0, "poisoned": 0, "pruned": 0}
    for worker_id in sorted(dead) if recover else ():
        requeued, poisoned = recover_worker(app, broker, worker_id)
        done["dead_workers"] += 1
        done["requeued"] += requeued
        done["poisoned"] += poisoned
        unregister(broker, worker_id, identity)
    if state is None or time.monotonic() - state.pruned_at >= PRUNE_SECONDS:
        store = store_for(app)
        if store is not None:
            done["pruned"] = store.prune()
        if state is not None:
            state.pruned_at = time.monotonic()
    if done["dead_workers"]:
        logger.warning(
            "recovered %(requeued)d messages and %(poisoned)d poison messages from "
            "%(dead_workers)d dead worker(s)",
            done,
        )
    return done


def broker_pass(broker: Any, identity: str, now: int, cutoff: int) -> tuple[set[str], dict[str, int]]:
    """Refresh this worker's heartbeat; the workers with heartbeats older than ``cutoff``, and the PIDs of
    the workers registered under ``identity``."""
    keys = [broker.heartbeats_key, _host_key(broker, identity or "-")]
    stale, flat = broker.pass_script(keys=keys, args=[broker.broker_id, now, cutoff])
    here: dict[str, int] = {}
    for worker_id, entry in zip(flat[::2], flat[1::2], strict=True):
        try:
            here[worker_id.decode()] = int(json.loads(entry)["pid"])
        except (ValueError, KeyError, TypeError):
            continue
    return {worker_id.decode() for worker_id in stale}, here


def _wake_key(broker: Any, list_name: str) -> str:
    """The wake list of the consumer that reads ``list_name`` (a queue, a lane ``q.p3``, or a delay queue)."""
    delayed = list_name.endswith(".DQ")
    base = list_name.removesuffix(".DQ")
    head, _, tail = base.rpartition(".")
    if head and tail[:1] == "p" and tail[1:].isdigit():
        base = head
    return broker.wake_key(f"{base}{'.DQ' if delayed else ''}")


def recover_worker(app: Any, broker: Any, worker_id: str) -> tuple[int, int]:
    """Give a dead worker's held messages back to their queues; bury the ones that keep killing workers."""
    from .broker import WAKE_TOKENS_KEPT

    client = broker.client
    prefix = broker.acks_key(worker_id, "")
    limit = int(app.conf.worker_max_redeliveries)
    requeued = poisoned = 0
    for key in client.scan_iter(match=prefix + "*", count=500):
        queue = key.decode()[len(prefix) :]
        delayed = queue.endswith(".DQ")
        held = client.scard(key)
        result = broker.recover_script(
            keys=[
                key,
                broker.key(queue),
                broker.key(f"{queue}.msgs"),
                broker.key("__redeliveries__"),
                _wake_key(broker, queue),
            ],
            args=[-1 if delayed else limit, 7 * 86400 * 1000, WAKE_TOKENS_KEPT],
        )
        for data, count in zip(result[::2], result[1::2], strict=True):
            bury_raw(app, data, f"poison: its worker died on each of {int(count)} deliveries")
            poisoned += 1
        requeued += held - len(result) // 2
    return requeued, poisoned

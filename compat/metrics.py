"""Task metrics in Redis: a cheap, bounded recorder in each worker process, and readers for dashboards.

Recording costs no Redis call per message. Each worker process buffers finished-task events in memory
(a bounded deque) and a background thread flushes them every ``worker_metrics_interval`` seconds in one
pipelined round trip. The keys live in the stores' Redis (``compat.stores``: the result backend's), under
``broker_namespace``, and each is capped or expires:

* ``<ns>:metrics:b:<bucket>``: a hash per 10-second bucket, expiring after ``worker_metrics_window``;
  fields ``<task>|n|<STATE>`` (count), ``<task>|h|<i>`` (runtime histogram bucket ``i`` of
  ``RUNTIME_BUCKETS``) and ``<task>|s|ms`` (runtime sum in milliseconds).
* ``<ns>:metrics:totals``: the same fields, cumulative (Prometheus counters); refreshed 30-day TTL.
* ``<ns>:metrics:recent``: the latest ``worker_metrics_recent`` tasks as JSON (``LTRIM``), newest first.
* ``<ns>:metrics:worker:<id>``: one hash per worker process (host, pid, queues, started, heartbeat,
  done, failed) expiring ``WORKER_TTL`` seconds after its last flush; ``<ns>:metrics:workers`` indexes
  them by heartbeat and is pruned on every flush.

``compat.monitoring`` reads it all back for dashboards and Prometheus.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from typing import Any

import redis

from .stores import redis_for

logger = logging.getLogger("compat.metrics")

BUCKET_SECONDS = 10
#: Upper bounds (seconds) of the runtime histogram; a last, open bucket catches everything slower.
RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TOTALS_TTL = 30 * 86400
RECENT_TTL = 7 * 86400
WORKER_TTL = 30
#: An idle worker refreshes its entry this often (seconds), well inside ``WORKER_TTL``.
IDLE_HEARTBEAT = 10
BUFFER_LIMIT = 50_000
FINAL_STATES = ("SUCCESS", "FAILURE")
DEAD_LETTER_SCAN_LIMIT = 5000


def metrics_key(namespace: str, *parts: Any) -> str:
    """The Redis key ``<namespace>:metrics:<part>:<part>...``."""
    return ":".join([namespace, "metrics", *map(str, parts)])


def runtime_bucket(seconds: float) -> int:
    """The index in ``RUNTIME_BUCKETS`` (or one past its end) that ``seconds`` falls in."""
    return bisect.bisect_left(RUNTIME_BUCKETS, seconds)


_encode_event = json.JSONEncoder(default=str).encode


# -- recording ---------------------------------------------------------------------------------------
class MetricsRecorder:
    """Buffers task events of one worker process and flushes them to Redis in one pipeline.

    Parameters:
      client: the stores' redis-py client (``compat.stores.redis_for``).
      namespace: ``broker_namespace``.
      worker_id: this worker process's id (the Redis broker's ``broker_id``, also in its heartbeats).
      window: seconds the 10-second buckets are kept.
      recent: how many recent tasks are kept.
    """

    def __init__(
        self, client: Any, namespace: str, worker_id: str, *, window: float = 3600, recent: int = 1000
    ) -> None:
        self.client, self.namespace, self.worker_id = client, namespace, worker_id
        self.last_heartbeat = 0.0
        #: Called after each heartbeat written (the worker sends Celery's ``heartbeat_sent``).
        self.on_heartbeat: Any = None
        self.window, self.recent = int(window), int(recent)
        self.events: deque[dict[str, Any]] = deque(maxlen=BUFFER_LIMIT)
        self.info: dict[str, Any] = {
            "id": worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.time(),
        }
        self.done = 0
        self.failed = 0
        self.queues: Any = lambda: []
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.broken = False

    def record(self, event: dict[str, Any]) -> None:
        """Buffer one finished task (thread-safe; the oldest events go first if flushes stall)."""
        self.events.append(event)

    def start(self, interval: float) -> None:
        """Flush every ``interval`` seconds from a daemon thread until ``stop``."""
        self.stopping.clear()
        self.thread = threading.Thread(target=self._run, args=(interval,), name="compat-metrics", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread, flush what is left and drop this worker from the registry."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        try:
            self.flush()
            with self.client.pipeline(transaction=False) as pipe:
                pipe.delete(metrics_key(self.namespace, "worker", self.worker_id))
                pipe.zrem(metrics_key(self.namespace, "workers"), self.worker_id)
                pipe.execute()
        except Exception:
            logger.debug("could not flush metrics at shutdown", exc_info=True)

    def _run(self, interval: float) -> None:
        while not self.stopping.wait(interval):
            try:
                self.flush()
                if self.broken:
                    self.broken = False
                    logger.info("metrics flushing again")
            except Exception as exc:
                if not self.broken:
                    # An outage is one line (its cause is obvious); anything else keeps its traceback.
                    unreachable = isinstance(exc, redis.ConnectionError)
                    logger.warning(
                        "could not flush task metrics%s; retrying quietly",
                        f" ({exc})" if unreachable else "",
                        exc_info=not unreachable,
                    )
                self.broken = True

    def drain(self) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                events.append(self.events.popleft())
            except IndexError:
                return events

    def _aggregate(self, events: list[dict[str, Any]]) -> tuple[dict[int, Counter], Counter]:
        """Per 10-second bucket and cumulative hash increments for ``events``; counts done and failed.

        Events are first counted by tuple keys, so each field name is formatted once per flush rather
        than once per event (a busy worker flushes thousands of events a second).
        """
        states: Counter = Counter()
        histogram: Counter = Counter()
        millis: Counter = Counter()
        for event in events:
            key = (int(event["finished"] // BUCKET_SECONDS), event["task"])
            states[key, event["state"]] += 1
            runtime = event["runtime"]
            if runtime is not None:
                histogram[key, runtime_bucket(runtime)] += 1
                millis[key, "ms"] += round(runtime * 1000)
        buckets: dict[int, Counter] = {}
        totals: Counter = Counter()
        for fields, kind in ((states, "n"), (histogram, "h"), (millis, "s")):
            for ((bucket, task), label), count in fields.items():
                field = f"{task}|{kind}|{label}"
                buckets.setdefault(bucket, Counter())[field] += count
                totals[field] += count
        for ((_, _), state), count in states.items():
            if state == "FAILURE":
                self.failed += count
            elif state != "RETRY":
                self.done += count
        return buckets, totals

    def flush(self) -> int:
        """Write buffered events and this worker's heartbeat in one round trip; returns how many events."""
        events = self.drain()
        ns, now = self.namespace, time.time()
        if not events and not self.broken and now - self.last_heartbeat < IDLE_HEARTBEAT:
            return 0  # idle: nothing to write, and the worker entry is still fresh
        buckets, totals = self._aggregate(events)
        with self.client.pipeline(transaction=False) as pipe:
            for bucket, fields in buckets.items():
                key = metrics_key(ns, "b", bucket)
                for field, value in fields.items():
                    pipe.hincrby(key, field, value)
                pipe.expire(key, self.window + BUCKET_SECONDS)
            if totals:
                key = metrics_key(ns, "totals")
                for field, value in totals.items():
                    pipe.hincrby(key, field, value)
                pipe.expire(key, TOTALS_TTL)
                recent = metrics_key(ns, "recent")
                pipe.lpush(recent, *map(_encode_event, events[-self.recent :]))
                pipe.ltrim(recent, 0, self.recent - 1)
                pipe.expire(recent, RECENT_TTL)
            worker_key = metrics_key(ns, "worker", self.worker_id)
            pipe.hset(
                worker_key,
                mapping={
                    **self.info,
                    "queues": json.dumps(sorted(self.queues())),
                    "heartbeat": now,
                    "done": self.done,
                    "failed": self.failed,
                },
            )
            pipe.expire(worker_key, WORKER_TTL)
            index = metrics_key(ns, "workers")
            pipe.zadd(index, {self.worker_id: now})
            pipe.zremrangebyscore(index, "-inf", now - WORKER_TTL)
            pipe.execute()
        self.last_heartbeat = now  # only once written: after a failure, the next flush tries again
        if self.on_heartbeat is not None:
            self.on_heartbeat()
        return len(events)


def recorder_for(app: Any, broker: Any) -> MetricsRecorder | None:
    """A recorder for one worker process of ``app``, or None when the app has no Redis for metrics."""
    client = redis_for(app)
    if client is None:
        return None
    conf = app.conf
    return MetricsRecorder(
        client,
        conf.broker_namespace,
        getattr(broker, "broker_id", None) or str(uuid.uuid4()),
        window=float(conf.worker_metrics_window),
        recent=int(conf.worker_metrics_recent),
    )

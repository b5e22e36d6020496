"""Task metrics in Redis: a cheap, bounded recorder in each worker process, and readers for dashboards.

Recording costs no Redis call per message, and the worker thread only appends tuples of the message's
fields. Each worker process buffers them in memory (bounded deques: the counts of every finished task,
the full records of the latest ``worker_metrics_recent``) and a background thread makes them into events
and flushes them every ``worker_metrics_interval`` seconds, or as soon as ``FLUSH_AT`` tasks are buffered,
in one pipelined round trip (one more per 500 further recent events; and once more at the worker's
shutdown). The keys live in the stores' Redis
(``compat.stores``: the result backend's), under ``broker_namespace``, and each is capped or expires:

* ``<ns>:metrics:b:<bucket>``: a hash per 10-second bucket, expiring after ``worker_metrics_window``;
  fields ``<task>|n|<STATE>`` (count), ``<task>|h|<i>`` (runtime histogram bucket ``i`` of
  ``RUNTIME_BUCKETS``) and ``<task>|s|ms`` (runtime sum in milliseconds).
* ``<ns>:metrics:m:<bucket>``: the same fields per 5-minute bucket, kept ``COARSE_TTL`` (25 h), for
  day-long charts.
* ``<ns>:metrics:q:<bucket>`` and ``<ns>:metrics:qm:<bucket>``: queue depth samples (fields
  ``<queue>|ready``, ``|delayed``, ``|in_progress``) per 10-second and 5-minute bucket. One worker
  process per queue and bucket takes the sample (``SET NX`` in its flush pipeline decides which),
  through the broker's queue inspector (``compat.brokers``), so the cost is per bucket, not per task.
  On a broker that pushes (``QueueInspector.idle_depths_known``: RabbitMQ without its management API),
  a worker with no message in hand claims nothing and writes zeros for its queues without a broker call,
  so an idle worker makes none; a busy worker's sample wins over them.
* ``<ns>:metrics:totals``: the same fields, cumulative (Prometheus counters); refreshed 30-day TTL.
* ``<ns>:metrics:recent``: the latest ``worker_metrics_recent`` tasks as JSON (``LTRIM``), newest first;
  each event carries its lineage (parent, root, group, the chain still to run) and a preview of its
  arguments, so it is also the task search index (``compat.search``).
* ``<ns>:metrics:worker:<id>``: one hash per worker process (host, pid, queues, started, heartbeat,
  done, failed, and ``stopped`` after a clean shutdown) expiring ``SEEN_TTL`` seconds after its last
  flush; ``<ns>:metrics:workers`` indexes them by heartbeat and is pruned of entries older than
  ``SEEN_TTL`` on every flush. A worker is alive while its heartbeat is under ``WORKER_TTL`` seconds
  old; after that the dashboard shows it as dead, with when it was last seen, for an hour.

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
#: The coarse buckets of day-long charts, and how long they are kept.
COARSE_SECONDS = 300
COARSE_TTL = 25 * 3600
#: Upper bounds (seconds) of the runtime histogram; a last, open bucket catches everything slower.
RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TOTALS_TTL = 30 * 86400
RECENT_TTL = 7 * 86400
WORKER_TTL = 30
#: How long a worker that stopped heartbeating stays listed (as dead or stopped).
SEEN_TTL = 3600
#: The depth fields sampled per queue.
DEPTH_FIELDS = ("ready", "delayed", "in_progress")
#: An idle worker refreshes its entry this often (seconds), well inside ``WORKER_TTL``.
IDLE_HEARTBEAT = 10
BUFFER_LIMIT = 50_000
#: Events pushed onto the recent list per round trip (``MetricsRecorder.push_recent``).
RECENT_CHUNK = 500
#: A busy worker flushes as soon as this many finished tasks are buffered, before its interval is up:
#: what it holds between two flushes stays this size at any rate (at 1,000/s and more, a one-second
#: buffer cost a worker process 1-2 MB of resident memory that it kept).
FLUSH_AT = 250
FINAL_STATES = ("SUCCESS", "FAILURE")
DEAD_LETTER_SCAN_LIMIT = 5000


def metrics_key(namespace: str, *parts: Any) -> str:
    """The Redis key ``<namespace>:metrics:<part>:<part>...``."""
    return ":".join([namespace, "metrics", *map(str, parts)])


def runtime_bucket(seconds: float) -> int:
    """The index in ``RUNTIME_BUCKETS`` (or one past its end) that ``seconds`` falls in."""
    return bisect.bisect_left(RUNTIME_BUCKETS, seconds)


_encode_event = json.JSONEncoder(default=str).encode
_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode

#: Characters of a task's arguments kept in its event (the search index matches substrings of them).
ARGS_PREVIEW_CHARS = 200
#: Chain steps still to run kept in an event (the canvas graph draws them).
CHAIN_STEPS_KEPT = 20


def _bounded(value: Any, budget: int) -> str:
    """JSON-ish text of ``value`` that stops early: a 20 MB argument costs no more than a short one."""
    if isinstance(value, str):
        return _encode(value[:budget])
    if value is None or isinstance(value, bool | int | float):
        return _encode(value)
    if isinstance(value, list | tuple | dict):
        items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
        parts, used = [], 0
        for key, item in items:
            if used >= budget:
                parts.append("…")
                break
            text = _bounded(item, budget - used)
            if key is not None:
                text = f"{_bounded(key, 50)}: {text}"
            parts.append(text)
            used += len(text) + 2
        inner = ", ".join(parts)
        return "{" + inner + "}" if isinstance(value, dict) else "[" + inner + "]"
    return _encode(str(value)[:budget])


#: Argument types a preview encodes whole when the result is short (what ``_bounded`` would write anyway).
_SCALARS = frozenset({int, float, bool, type(None)})


def args_preview(args: Any, kwargs: Any) -> str:
    """The start of ``args`` and ``kwargs`` as JSON, at most ``ARGS_PREVIEW_CHARS`` characters."""
    if not kwargs and all(
        type(arg) in _SCALARS or (type(arg) is str and len(arg) <= ARGS_PREVIEW_CHARS) for arg in args or ()
    ):
        # The common case (a few ids, a short string) in one encoder call: the same text, a few
        # microseconds less per message than walking the arguments one by one.
        text = _encode(list(args or ()))
        if len(text) <= ARGS_PREVIEW_CHARS:
            return text
    text = _bounded(list(args or ()), ARGS_PREVIEW_CHARS)
    if kwargs:
        text += " " + _bounded(dict(kwargs), ARGS_PREVIEW_CHARS)
    return text[:ARGS_PREVIEW_CHARS]


def _step(sig: Any) -> dict[str, Any]:
    sig = sig if isinstance(sig, dict) else {}
    options = sig.get("options") or {}
    return {"id": options.get("task_id"), "task": sig.get("task"), "type": sig.get("subtask_type")}


def lineage(parent: Any, root: Any, group: Any, chain: Any, chord: Any) -> dict[str, Any]:
    """An event's canvas fields from a message's options: parent, root, group, and the chain steps /
    chord body still to come."""
    found = {field: value for field, value in (("parent", parent), ("root", root), ("group", group)) if value}
    if isinstance(chain, list) and chain:
        found["chain"] = [_step(step) for step in chain[:CHAIN_STEPS_KEPT]]
    if isinstance(chord, dict) and isinstance(chord.get("body"), dict):
        found["chord"] = _step(chord["body"])
    return found


def _small(args: Any) -> bool:
    """Whether ``args`` are a few scalars and short strings: cheap to keep until the flush."""
    if len(args) > 8:
        return False
    for arg in args:
        kind = type(arg)
        if kind not in _SCALARS and (kind is not str or len(arg) > ARGS_PREVIEW_CHARS):
            return False
    return True


def finished_record(message: Any, state: str, runtime: float | None, finished: float) -> tuple:
    """What a buffered event keeps of a finished message: its fields, not the message.

    A busy worker buffers thousands of messages between two flushes. Holding the messages themselves
    (proxy, options, encoded body) raised a worker's resident memory by several MB that it never gave back.
    Arguments larger than a preview are previewed now, so a 100 KB payload is not kept either.
    """
    options = message.options
    args, kwargs = message.args or (), message.kwargs
    # a few small arguments are kept as they are (previewed at flush time), anything else as its preview
    kept = args if not kwargs and _small(args) else args_preview(args, kwargs)
    chain = options.get("chain")
    return (  # what the counts need first (``_counted``)
        message.actor_name, state, runtime, finished,
        message.message_id, message.queue_name, options.get("retries", 0), kept,
        options.get("parent_id"), options.get("root_id"), options.get("group_id"),
        chain[:CHAIN_STEPS_KEPT] if isinstance(chain, list) else None, options.get("chord"),
    )


def event_of_finished(record: tuple, worker: str) -> dict[str, Any]:
    """The event of a ``finished_record``, as the dashboard reads it."""
    (
        task, state, runtime, finished, message_id, queue, retries, kept, parent, root, group, chain, chord,
    ) = record
    return {
        "id": message_id,
        "task": task,
        "state": state,
        "runtime": runtime,
        "retries": retries,
        "queue": queue.removesuffix(".DQ"),
        "finished": finished,
        "worker": worker,
        "args": kept if type(kept) is str else args_preview(kept, None),
        **lineage(parent, root, group, chain, chord),
    }


def _counted(event: dict[str, Any]) -> tuple:
    """``(task, state, runtime, finished)`` of an event, what the counts need of it."""
    return event["task"], event["state"], event["runtime"], event["finished"]


def _take(buffer: deque) -> list[Any]:
    """Everything in ``buffer``, oldest first, popped one by one (worker threads append meanwhile)."""
    items = []
    pop = buffer.popleft
    while True:
        try:
            items.append(pop())
        except IndexError:
            return items


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
        #: The least time between two heartbeats (the flush interval once started): a flush that a full
        #: buffer brings forward writes the events but not the worker entry.
        self.heartbeat_every = 0.0
        self.beat_owed = False  # such a flush counted tasks the worker entry does not show yet
        #: Called after each heartbeat written (the worker sends Celery's ``heartbeat_sent``).
        self.on_heartbeat: Any = None
        self.window, self.recent = int(window), int(recent)
        # What each finished task adds to the counts, (task, state, runtime, finished); and the full
        # records of only the latest ``recent``, the most the recent list keeps.
        self.counts: deque[tuple] = deque(maxlen=BUFFER_LIMIT)
        self.latest: deque[Any] = deque(maxlen=max(1, self.recent))  # finished_record tuples, or events
        self.info: dict[str, Any] = {
            "id": worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.time(),
        }
        self.done = 0
        self.failed = 0
        self.queues: Any = lambda: []
        #: Whether this process has a message in hand (set by the middleware): an idle one, on a broker that
        #: pushes (``QueueInspector.idle_depths_known``), writes its depth sample without a broker call.
        self.busy: Any = lambda: True
        #: The broker's queue inspector (``compat.brokers``), when it has one: depth samples for charts.
        self.inspector: Any = None
        self.sampled_bucket = 0
        self.stopping = threading.Event()
        #: Set when ``FLUSH_AT`` tasks are buffered, or to stop: the flush thread then runs at once.
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.broken = False

    def record(self, event: dict[str, Any]) -> None:
        """Buffer one finished task's event (thread-safe; the oldest events go first if flushes stall)."""
        self.counts.append(_counted(event))
        self.latest.append(event)
        self._wake_if_full()

    def finished(self, message: Any, state: str, runtime: float | None) -> None:
        """Buffer one finished message, as cheaply as the worker thread can: a tuple of its fields.

        Its event (arguments preview, lineage, JSON) is built by the flush thread (``event_of_finished``),
        off the worker threads that would otherwise pay 5-7 us per message for it. The middleware hooks
        that could change the message's options have all run by now (``WorkerMetrics`` is first in the
        list, so its after-hook is the last).
        """
        record = finished_record(message, state, runtime, time.time())
        self.counts.append(record[:4])
        self.latest.append(record)
        self._wake_if_full()

    def _wake_if_full(self) -> None:
        if len(self.counts) >= FLUSH_AT and not self.wake.is_set():
            self.wake.set()

    def start(self, interval: float) -> None:
        """Flush every ``interval`` seconds from a daemon thread until ``stop``."""
        self.stopping.clear()
        self.wake.clear()
        self.heartbeat_every = interval
        self.thread = threading.Thread(target=self._run, args=(interval,), name="compat-metrics", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread, flush what is left and drop this worker from the registry."""
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        try:
            self.flush()
            # Kept (as stopped) for SEEN_TTL, so the dashboard can tell a clean stop from a death.
            self.client.hset(metrics_key(self.namespace, "worker", self.worker_id), "stopped", time.time())
        except Exception:
            logger.debug("could not flush metrics at shutdown", exc_info=True)

    def _run(self, interval: float) -> None:
        while True:
            if self.broken:  # an outage: retry once an interval, however full the buffer
                self.stopping.wait(interval)
            else:
                self.wake.wait(interval)
            self.wake.clear()
            if self.stopping.is_set():
                return
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

    def drain(self) -> tuple[list[tuple], list[Any]]:
        """Take everything buffered: the counts of every finished task, and the latest records."""
        return _take(self.counts), _take(self.latest)

    def recent_events(self, latest: list[Any]) -> list[dict[str, Any]]:
        """The events of the latest records, made at flush time (off the worker threads)."""
        worker = self.worker_id
        return [item if type(item) is dict else event_of_finished(item, worker) for item in latest]

    def _aggregate(self, counted: list[tuple]) -> tuple[dict[int, Counter], dict[int, Counter], Counter]:
        """Hash increments per 10-second bucket, per 5-minute bucket and cumulative; counts done and failed.

        Events are first counted by tuple keys, so each field name is formatted once per flush rather
        than once per event (a busy worker flushes thousands of events a second).
        """
        states: Counter = Counter()
        histogram: Counter = Counter()
        millis: Counter = Counter()
        for task, state, runtime, finished in counted:
            key = (int(finished // BUCKET_SECONDS), task)
            states[key, state] += 1
            if runtime is not None:
                histogram[key, runtime_bucket(runtime)] += 1
                millis[key, "ms"] += round(runtime * 1000)
        buckets: dict[int, Counter] = {}
        coarse: dict[int, Counter] = {}
        totals: Counter = Counter()
        per_coarse = COARSE_SECONDS // BUCKET_SECONDS
        for fields, kind in ((states, "n"), (histogram, "h"), (millis, "s")):
            for ((bucket, task), label), count in fields.items():
                field = f"{task}|{kind}|{label}"
                buckets.setdefault(bucket, Counter())[field] += count
                coarse.setdefault(bucket // per_coarse, Counter())[field] += count
                totals[field] += count
        for ((_, _), state), count in states.items():
            if state == "FAILURE":
                self.failed += count
            elif state != "RETRY":
                self.done += count
        return buckets, coarse, totals

    def flush(self) -> int:
        """Write buffered events and this worker's heartbeat in one round trip (and one more per further
        ``RECENT_CHUNK`` events for the recent list); returns how many events.

        Once per 10-second bucket it also claims the queue depth sample of each queue it consumes; the
        queues it won are sampled through the broker's inspector and written in a second round trip.
        """
        counted, latest = self.drain()
        ns, now = self.namespace, time.time()
        bucket_now = int(now // BUCKET_SECONDS)
        sample = self.inspector is not None and bucket_now != self.sampled_bucket
        idle_sample = sample and not counted and self.inspector.idle_depths_known and not self.busy()
        fresh = now - self.last_heartbeat < IDLE_HEARTBEAT and not self.beat_owed
        if not counted and not self.broken and not sample and fresh:
            return 0  # idle: nothing to write, and the worker entry is still fresh
        # a stop's flush writes the entry too (its final totals), however recent the last heartbeat
        beat = self.broken or self.stopping.is_set() or now - self.last_heartbeat >= self.heartbeat_every
        buckets, coarse, totals = self._aggregate(counted)
        queues = sorted(self.queues())
        with self.client.pipeline(transaction=False) as pipe:
            tables = (("b", self.window + BUCKET_SECONDS, buckets), ("m", COARSE_TTL, coarse))
            for prefix, ttl, table in tables:
                for bucket, fields in table.items():
                    key = metrics_key(ns, prefix, bucket)
                    for field, value in fields.items():
                        pipe.hincrby(key, field, value)
                    pipe.expire(key, ttl)
            if totals:
                key = metrics_key(ns, "totals")
                for field, value in totals.items():
                    pipe.hincrby(key, field, value)
                pipe.expire(key, TOTALS_TTL)
                self._queue_recent(pipe, latest[:RECENT_CHUNK])  # the oldest first: the newest end on top
            if beat:
                self._queue_heartbeat(pipe, queues, now)
            if idle_sample:
                self._queue_idle_depths(pipe, queues, bucket_now)
            elif sample:
                for queue in queues:
                    pipe.set(metrics_key(ns, "qs", bucket_now, queue), self.worker_id, nx=True, ex=60)
            replies = pipe.execute()
        self.push_recent(latest[RECENT_CHUNK:])
        self.beat_owed = not beat
        if beat:
            self.last_heartbeat = now  # only once written: after a failure, the next flush tries again
            if self.on_heartbeat is not None:
                self.on_heartbeat()
        if idle_sample:
            self.sampled_bucket = bucket_now
        elif sample:
            self.sampled_bucket = bucket_now
            claims = replies[len(replies) - len(queues) :]
            won = [queue for queue, ok in zip(queues, claims, strict=True) if ok]
            if won:
                self.sample_depths(won, bucket_now)
        return len(counted)

    def _queue_heartbeat(self, pipe: Any, queues: list[str], now: float) -> None:
        """This worker's entry (its heartbeat, queues and totals) and its place in the index."""
        worker_key = metrics_key(self.namespace, "worker", self.worker_id)
        entry = {"queues": json.dumps(queues), "heartbeat": now, "done": self.done, "failed": self.failed}
        pipe.hset(worker_key, mapping={**self.info, **entry})
        pipe.expire(worker_key, SEEN_TTL)
        index = metrics_key(self.namespace, "workers")
        pipe.zadd(index, {self.worker_id: now})
        pipe.zremrangebyscore(index, "-inf", now - SEEN_TTL)

    def push_recent(self, latest: list[Any]) -> None:
        """Push the latest records' events onto the recent list, ``RECENT_CHUNK`` per round trip.

        A busy worker has thousands a flush (up to ``worker_metrics_recent``); made into events and JSON
        all at once, they raised its resident memory by megabytes that it kept. A chunk at a time bounds
        that; the first chunk goes in the flush's own round trip.
        """
        for start in range(0, len(latest), RECENT_CHUNK):
            with self.client.pipeline(transaction=False) as pipe:
                self._queue_recent(pipe, latest[start : start + RECENT_CHUNK])
                pipe.execute()

    def _queue_recent(self, pipe: Any, records: list[Any]) -> None:
        if not records:
            return
        key = metrics_key(self.namespace, "recent")
        pipe.lpush(key, *map(_encode_event, self.recent_events(records)))
        pipe.ltrim(key, 0, self.recent - 1)
        pipe.expire(key, RECENT_TTL)

    def _queue_idle_depths(self, pipe: Any, queues: list[str], bucket: int) -> None:
        """Zero depths of an idle worker's queues, known without the broker (``idle_depths_known``).

        An idle worker claims no sample: a busy one claims and samples through the broker, and its sample
        wins (``HSET`` over these ``HSETNX`` in the 10-second bucket). In the 5-minute bucket, where the
        latest sample stands for the point, the zeros are a sample like any other.
        """
        if not queues:
            return
        ns = self.namespace
        zeros = {f"{queue}|{name}": 0 for queue in queues for name in DEPTH_FIELDS}
        fine = metrics_key(ns, "q", bucket)
        for field in zeros:
            pipe.hsetnx(fine, field, 0)
        pipe.expire(fine, self.window + BUCKET_SECONDS)
        coarse = metrics_key(ns, "qm", bucket * BUCKET_SECONDS // COARSE_SECONDS)
        pipe.hset(coarse, mapping=zeros)
        pipe.expire(coarse, COARSE_TTL)

    def sample_depths(self, queues: list[str], bucket: int) -> None:
        """Write the depths of ``queues`` into this bucket's and this 5-minute bucket's sample hashes."""
        depths = self.inspector.depths(queues)
        fields = {f"{d.name}|{name}": getattr(d, name) for d in depths for name in DEPTH_FIELDS}
        ns = self.namespace
        with self.client.pipeline(transaction=False) as pipe:
            for key, ttl in (
                (metrics_key(ns, "q", bucket), self.window + BUCKET_SECONDS),
                (metrics_key(ns, "qm", bucket * BUCKET_SECONDS // COARSE_SECONDS), COARSE_TTL),
            ):
                pipe.hset(key, mapping=fields)
                pipe.expire(key, ttl)
            pipe.execute()


def recorder_for(app: Any, broker: Any) -> MetricsRecorder | None:
    """A recorder for one worker process of ``app``, or None when the app has no Redis for metrics."""
    client = redis_for(app)
    if client is None:
        return None
    conf = app.conf
    recorder = MetricsRecorder(
        client,
        conf.broker_namespace,
        getattr(broker, "broker_id", None) or str(uuid.uuid4()),
        window=float(conf.worker_metrics_window),
        recent=int(conf.worker_metrics_recent),
    )
    try:
        recorder.inspector = broker.inspector()
    except (AttributeError, NotImplementedError):
        pass  # a broker without an inspector (a test stub): no depth charts
    return recorder

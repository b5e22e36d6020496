"""The recorder: one pipeline per flush, capped and expiring keys, percentiles, and the off switch."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest

from compat import Celery
from compat.exceptions import Ignore, Retry
from compat.metrics import (
    FLUSH_AT,
    RECENT_CHUNK,
    RUNTIME_BUCKETS,
    MetricsRecorder,
    metrics_key,
    runtime_bucket,
)
from compat.middleware.metrics import WorkerMetrics, outcome
from compat.monitoring import _quantile
from tests.helpers import wait_for


def event(task="t", state="SUCCESS", runtime=0.02, finished=None):
    return {
        "id": "x",
        "task": task,
        "state": state,
        "runtime": runtime,
        "retries": 0,
        "queue": "q",
        "finished": finished or time.time(),
        "worker": "w",
    }


class CountingClient:
    """Wraps a redis-py client and counts the pipelines it opens."""

    def __init__(self, client):
        self.client, self.pipelines = client, 0

    def pipeline(self, *args, **kwargs):
        self.pipelines += 1
        return self.client.pipeline(*args, **kwargs)


def test_flush_is_one_round_trip_and_everything_is_bounded(redis_client, redis_namespace):
    ns = redis_namespace.rstrip(":")
    client = CountingClient(redis_client)
    recorder = MetricsRecorder(client, ns, "w1", window=600, recent=100)
    for index in range(250):
        recorder.record(event(state="FAILURE" if index % 50 == 0 else "SUCCESS"))
    assert recorder.flush() == 250 and client.pipelines == 1
    assert redis_client.llen(metrics_key(ns, "recent")) == 100
    for key in ("recent", "totals", "worker:w1"):
        assert 0 < redis_client.ttl(metrics_key(ns, key)), key
    bucket = metrics_key(ns, "b", int(time.time() // 10))
    assert 600 <= redis_client.ttl(bucket) <= 610
    assert int(redis_client.hget(bucket, "t|n|SUCCESS")) == 245
    assert int(redis_client.hget(bucket, "t|n|FAILURE")) == 5
    worker = redis_client.hgetall(metrics_key(ns, "worker", "w1"))
    assert worker[b"done"] == b"245" and worker[b"failed"] == b"5"
    assert redis_client.zscore(metrics_key(ns, "workers"), "w1")


def test_idle_flush_only_refreshes_the_heartbeat(redis_client, redis_namespace):
    ns = redis_namespace.rstrip(":")
    recorder = MetricsRecorder(redis_client, ns, "w2")
    assert recorder.flush() == 0
    assert not redis_client.exists(metrics_key(ns, "recent"), metrics_key(ns, "totals"))
    assert redis_client.exists(metrics_key(ns, "worker", "w2"))
    recorder.stop()  # never started: flushes and marks itself stopped (listed as such for an hour)
    assert float(redis_client.hget(metrics_key(ns, "worker", "w2"), "stopped")) > 0


def test_buffer_is_capped():
    recorder = MetricsRecorder(None, "ns", "w", recent=100)
    for _ in range(recorder.counts.maxlen + 10):
        recorder.record(event())
    assert len(recorder.counts) == recorder.counts.maxlen
    assert len(recorder.latest) == 100  # full records: only as many as the recent list keeps


def test_a_busy_flush_pushes_the_recent_list_in_chunks_newest_on_top(redis_client, redis_namespace):
    ns = redis_namespace.rstrip(":")
    client = CountingClient(redis_client)
    recorder = MetricsRecorder(client, ns, "w1", recent=1000)
    for index in range(1200):
        recorder.record({**event(), "id": f"t{index}"})
    assert recorder.flush() == 1200
    # the counts and the oldest chunk in one round trip, then one per further chunk
    assert client.pipelines == 1 + math.ceil((1000 - RECENT_CHUNK) / RECENT_CHUNK)
    ids = [json.loads(raw)["id"] for raw in redis_client.lrange(metrics_key(ns, "recent"), 0, -1)]
    assert ids == [f"t{index}" for index in range(1199, 199, -1)]
    bucket = metrics_key(ns, "b", int(time.time() // 10))
    assert int(redis_client.hget(bucket, "t|n|SUCCESS")) == 1200


def test_a_busy_worker_flushes_once_its_buffer_is_full_not_only_each_interval(redis_client, redis_namespace):
    """What a worker holds between flushes is bounded by FLUSH_AT at any rate, not by rate x interval."""
    ns = redis_namespace.rstrip(":")
    recorder = MetricsRecorder(redis_client, ns, "w1", recent=10_000)
    recorder.start(60.0)  # the interval alone would not flush within this test
    try:
        for index in range(FLUSH_AT - 1):
            recorder.record({**event(), "id": f"t{index}"})
        time.sleep(0.3)
        assert not redis_client.exists(metrics_key(ns, "recent"))  # not full yet: nothing written
        recorder.record({**event(), "id": "last"})
        deadline = time.monotonic() + 5
        while redis_client.llen(metrics_key(ns, "recent")) < FLUSH_AT and time.monotonic() < deadline:
            time.sleep(0.01)
        assert redis_client.llen(metrics_key(ns, "recent")) == FLUSH_AT
        assert not recorder.counts and not recorder.latest
    finally:
        recorder.stop()


def test_a_flush_brought_forward_writes_the_events_but_keeps_the_heartbeats_cadence(
    redis_client, redis_namespace
):
    """The worker entry and ``heartbeat_sent`` stay once an interval however busy the worker: a flush that a
    full buffer brings forward writes only the events."""
    ns = redis_namespace.rstrip(":")
    recorder = MetricsRecorder(redis_client, ns, "w1", recent=10_000)
    beats = []
    recorder.on_heartbeat = lambda: beats.append(time.time())
    recorder.start(60.0)
    try:
        for round_ in (1, 2):
            for index in range(FLUSH_AT):
                recorder.record({**event(), "id": f"r{round_}-{index}"})
            wanted = round_ * FLUSH_AT
            wait_for(lambda: redis_client.llen(metrics_key(ns, "recent")) == wanted, 5, "a flush")  # noqa: B023
        first = float(redis_client.hget(metrics_key(ns, "worker", "w1"), "heartbeat"))
        assert len(beats) == 1 and first == pytest.approx(beats[0], abs=1)
        assert int(redis_client.hget(metrics_key(ns, "totals"), "t|n|SUCCESS")) == 2 * FLUSH_AT
    finally:
        recorder.stop()
    assert len(beats) == 2  # the stop's flush writes the entry it owed (its totals), and marks it stopped
    assert redis_client.hget(metrics_key(ns, "worker", "w1"), "done") == str(2 * FLUSH_AT).encode()


def test_a_full_buffer_does_not_make_a_failing_flush_retry_at_once():
    """During an outage a busy worker retries once an interval, not on every task that fills its buffer."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from tests.helpers import free_port

    client = CountingClient(redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0)))
    recorder = MetricsRecorder(client, "ns", "w")
    recorder.start(0.2)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 1.0:  # a busy worker: the buffer is full again at every task
            for _ in range(FLUSH_AT):
                recorder.record(event())
            time.sleep(0.001)
    finally:
        recorder.stopping.set()
        recorder.wake.set()
        recorder.thread.join(timeout=5)
    assert 2 <= client.pipelines <= 7  # the first attempt on a full buffer, then about one per 0.2 s


def test_a_buffered_record_keeps_neither_the_message_nor_a_large_argument():
    from dramatiq.message import Message

    from compat.brokers.base import FieldsProxy

    big = "x" * 100_000
    recorder = MetricsRecorder(None, "ns", "w")
    message = FieldsProxy(Message(queue_name="q", actor_name="t", args=(big, 1), kwargs={}, options={}))
    recorder.finished(message, "SUCCESS", 0.01)
    small = FieldsProxy(Message(queue_name="q", actor_name="t", args=(7, "y"), kwargs={}, options={}))
    recorder.finished(small, "SUCCESS", 0.01)
    (record, small_record) = recorder.latest
    assert not any(field is message or field is big or field is message.args for field in record)
    preview = next(field for field in record if isinstance(field, str) and field.startswith('["x'))
    assert len(preview) <= 200
    (event_big, event_small) = recorder.recent_events(list(recorder.latest))
    assert event_big["args"] == preview and event_small["args"] == '[7, "y"]'


def test_histogram_and_percentiles():
    assert runtime_bucket(0.001) == 0 and runtime_bucket(0.3) == 6
    assert runtime_bucket(1e6) == len(RUNTIME_BUCKETS)
    histogram = [0] * (len(RUNTIME_BUCKETS) + 1)
    histogram[runtime_bucket(0.02)] = 90  # (0.01, 0.025]
    histogram[runtime_bucket(2.0)] = 10  # (1.0, 2.5]
    assert 0.01 < _quantile(histogram, 0.5) <= 0.025
    assert 1.0 < _quantile(histogram, 0.95) <= 2.5
    assert _quantile([0] * len(histogram), 0.5) is None


def test_outcomes():
    assert outcome(None) == "SUCCESS" and outcome(ValueError()) == "FAILURE"
    assert outcome(Retry()) == "RETRY" and outcome(Ignore()) == "IGNORED"


@pytest.mark.parametrize("enabled", [True, False])
def test_worker_metrics_setting_turns_recording_on_and_off(redis_url, redis_namespace, enabled):
    app = Celery("rec", broker=redis_url, set_as_current=False)
    app.conf.update(broker_namespace=redis_namespace.rstrip(":"), worker_metrics=enabled)
    middleware = next(m for m in app.broker.middleware if isinstance(m, WorkerMetrics))

    class FakeWorker:
        consumers = {"q": None, "q.DQ": None}

    middleware.after_worker_boot(app.broker, FakeWorker())
    try:
        assert (middleware.recorder is not None) is enabled
        if enabled:
            assert middleware.recorder.queues() == {"q"}
    finally:
        middleware.before_worker_shutdown(app.broker, FakeWorker())
        app.close()


def test_an_unreachable_redis_is_reported_once_and_never_as_recovered(caplog):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from tests.helpers import free_port

    dead = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # nothing listens there; no retries
    recorder = MetricsRecorder(dead, "ns", "w")
    recorder.record(event())
    with caplog.at_level(logging.INFO, logger="compat.metrics"):
        recorder.start(0.05)
        time.sleep(0.6)  # about ten flushes, all but the first with nothing buffered
        recorder.stopping.set()
        recorder.thread.join(timeout=5)
    assert caplog.text.count("could not flush task metrics") == 1
    assert "flushing again" not in caplog.text  # an idle flush that wrote nothing is no recovery


def test_the_flush_writes_the_event_of_a_finished_message(redis_client, redis_namespace):
    """The worker thread only buffers the message; the event the dashboard reads is made at flush time."""
    from dramatiq.message import Message

    from compat.brokers.base import FieldsProxy

    ns = redis_namespace.rstrip(":")
    middleware = WorkerMetrics(None)
    middleware.recorder = MetricsRecorder(redis_client, ns, "w3")
    message = FieldsProxy(
        Message(
            queue_name="q.DQ", actor_name="t", args=(7, "x"), kwargs={"k": 1},
            options={"retries": 2, "parent_id": "p1", "root_id": "r1", "group_id": "g1"},
        )
    )
    middleware.before_process_message(None, message)
    middleware.after_process_message(None, message, exception=ValueError("no"))
    assert not redis_client.exists(metrics_key(ns, "recent"))  # nothing written by the worker thread
    assert middleware.recorder.flush() == 1
    (raw,) = redis_client.lrange(metrics_key(ns, "recent"), 0, -1)
    event = json.loads(raw)
    assert event["id"] == message.message_id and event["task"] == "t" and event["state"] == "FAILURE"
    assert event["queue"] == "q" and event["retries"] == 2 and event["worker"] == "w3"
    assert event["args"] == '[7, "x"] {"k": 1}' and 0 <= event["runtime"] < 1
    assert (event["parent"], event["root"], event["group"]) == ("p1", "r1", "g1")
    assert abs(event["finished"] - time.time()) < 5
    bucket = metrics_key(ns, "b", int(event["finished"] // 10))
    assert int(redis_client.hget(bucket, "t|n|FAILURE")) == 1


class CountingInspector:
    """A broker's depth reader that counts its reads (a push broker's: idle depths are known to be 0)."""

    idle_depths_known = True

    def __init__(self):
        self.reads = 0

    def depths(self, queues):
        from compat.brokers.base import QueueDepth

        self.reads += 1
        return [QueueDepth(name=name, ready=4) for name in queues]


def _away_from_a_bucket_edge() -> None:
    """Sleep while a 10-second bucket is about to end, so a test's flushes and reads share one."""
    while not 0.5 < time.time() % 10 < 8:
        time.sleep(0.1)


@pytest.mark.parametrize(
    "busy, finished, reads",
    [(False, 0, 0), (True, 0, 1), (False, 3, 1)],
    ids=["idle: zeros, no broker read", "a message in hand: sampled", "tasks finished: sampled"],
)
def test_an_idle_worker_on_a_push_broker_samples_depths_without_the_broker(
    redis_client, redis_namespace, busy, finished, reads
):
    ns = redis_namespace.rstrip(":")
    recorder = MetricsRecorder(redis_client, ns, "w9")
    recorder.inspector = inspector = CountingInspector()
    recorder.queues = lambda: ["q"]
    recorder.busy = lambda: busy
    for _ in range(finished):
        recorder.record(event())
    _away_from_a_bucket_edge()
    recorder.flush()
    bucket = int(time.time() // 10)
    sample = redis_client.hgetall(metrics_key(ns, "q", bucket))
    assert inspector.reads == reads
    assert sample[b"q|ready"] == (b"4" if reads else b"0")
    assert bool(redis_client.exists(metrics_key(ns, "qs", bucket, "q"))) == bool(reads)  # claimed or not
    recorder.flush()  # the same bucket: sampled once
    assert inspector.reads == reads


def test_an_idle_workers_zeros_never_overwrite_a_busy_workers_sample(redis_client, redis_namespace):
    ns = redis_namespace.rstrip(":")
    busy, idle = MetricsRecorder(redis_client, ns, "busy"), MetricsRecorder(redis_client, ns, "idle")
    _away_from_a_bucket_edge()
    for recorder, in_hand in ((busy, True), (idle, False)):
        recorder.inspector, recorder.queues, recorder.busy = CountingInspector(), lambda: ["q"], (
            lambda in_hand=in_hand: in_hand
        )
        recorder.flush()
    sample = redis_client.hgetall(metrics_key(ns, "q", int(time.time() // 10)))
    assert sample[b"q|ready"] == b"4" and idle.inspector.reads == 0

"""Throughput with and without the metrics recorder: ``python -m tests.ops.overhead [N] [REPEATS]``.

Starts a private Redis, then for each repeat and each mode (``worker_metrics`` on / off, alternating) a
fresh worker group (2 processes x 8 threads), sends N no-op tasks in one batch and times until all have
run. Prints each run and the median throughput of each mode. A quick check, not part of the test suite;
``bench/`` is the project's benchmark.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_once(url: str, metrics: bool, count: int) -> float:
    from tests.compat.conftest import start_worker, stop_worker

    namespace = os.environ["OPS_TEST_NS"]
    env = {
        **os.environ,
        "OPS_TEST_BROKER": url,
        "OPS_TEST_NS": namespace,
        "OPS_TEST_METRICS": "1" if metrics else "0",
        "COMPAT_TEST_BROKER": url,
        "COMPAT_TEST_NS": namespace,
        "PYTHONPATH": str(ROOT),
    }
    from compat import group
    from tests.ops import ops_app

    proc = start_worker(env, "tests.ops.ops_app", processes=2, threads=8)
    client = ops_app.app.backend.client
    counter = f"{namespace}:done:{uuid.uuid4().hex[:8]}"
    try:
        time.sleep(1.0)
        started = time.perf_counter()
        group(ops_app.noop.s(counter) for _ in range(count)).apply_async()
        while int(client.get(counter) or 0) < count:
            time.sleep(0.01)
        return count / (time.perf_counter() - started)
    finally:
        stop_worker(proc)
        keys = list(client.scan_iter(match=namespace + "*", count=1000))
        if keys:
            client.delete(*keys)


def recorder_cost(url: str, count: int = 20000) -> tuple[float, float]:
    """Microseconds per message spent in the middleware's hooks, and in the flush thread per event."""
    import redis
    from dramatiq.broker import MessageProxy
    from dramatiq.message import Message

    from compat.metrics import MetricsRecorder
    from compat.middleware.metrics import WorkerMetrics

    client = redis.Redis.from_url(url)
    namespace = f"overhead-cpu:{uuid.uuid4().hex[:8]}"
    middleware = WorkerMetrics(None)
    middleware.recorder = MetricsRecorder(client, namespace, "w1")
    message = MessageProxy(Message(queue_name="q", actor_name="t", args=(), kwargs={}, options={}))
    started = time.process_time()
    for _ in range(count):
        middleware.before_process_message(None, message)
        middleware.after_process_message(None, message)
    hooks = (time.process_time() - started) / count * 1e6
    flushed = 0.0
    for _ in range(count // 1000):  # flushes of 1,000 events, as at 1,000 tasks/s per process
        for _ in range(1000):
            middleware.before_process_message(None, message)
            middleware.after_process_message(None, message)
        started = time.process_time()
        middleware.recorder.flush()
        flushed += time.process_time() - started
    keys = list(client.scan_iter(match=namespace + "*"))
    if keys:
        client.delete(*keys)
    return hooks, flushed / count * 1e6


def main() -> None:
    from threads.redis_server import PrivateRedis

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp, PrivateRedis(Path(tmp)) as server:
        os.environ.update(OPS_TEST_BROKER=server.url, OPS_TEST_NS=f"overhead:{uuid.uuid4().hex[:8]}")
        for repeat in range(repeats):
            for metrics in ((True, False) if repeat % 2 == 0 else (False, True)):
                rate = run_once(server.url, metrics, count)
                results[metrics].append(rate)
                mode = "on " if metrics else "off"
                print(f"repeat {repeat + 1}: metrics {mode} {rate:8.0f} tasks/s", flush=True)
        hooks, flush = recorder_cost(server.url)
    on, off = statistics.median(results[True]), statistics.median(results[False])
    print(f"median: on {on:.0f} tasks/s, off {off:.0f} tasks/s, overhead {(off - on) / off * 100:+.1f}%")
    per_task_us = 1e6 / off * 2  # CPU per task of a 2-process group without the recorder, on 2+ cores
    print(
        f"recorder CPU per message: {hooks:.1f} us in the hooks + {flush:.1f} us in the flush thread "
        f"= {(hooks + flush) / per_task_us * 100:.1f}% of ~{per_task_us:.0f} us per task"
    )


if __name__ == "__main__":
    main()

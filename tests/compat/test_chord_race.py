"""200 chords of 20 trivial headers on 2 worker processes x 8 threads: every body runs exactly once, on
Redis and on RabbitMQ."""

# ruff: noqa: F811  (the fixtures imported from tests.compat.brokers are the test parameters' names)

from __future__ import annotations

import json
import time
import uuid

from compat import chord
from tests.compat.brokers import on_rabbitmq, tasks, worker_env  # noqa: F401 - both brokers
from tests.compat.conftest import start_worker, stop_worker


def test_every_chord_body_runs_exactly_once_with_the_right_list(tasks, worker_env, redis_client, tmp_path):
    key = f"{worker_env['COMPAT_TEST_NS']}:chords:{uuid.uuid4().hex}"
    # The barrier is the result store's (Redis) on both brokers; on RabbitMQ fewer chords race through the
    # same two processes x 8 threads, to keep the suite's time.
    count = 60 if on_rabbitmq(tasks) else 200
    env = {**worker_env, "COMPAT_TEST_EXTRA_QUEUES": "race"}
    worker = start_worker(
        env, "tests.compat.worker_app", processes=2, threads=8, queues=["race"], log=tmp_path / "race.log"
    )
    try:
        results = []
        for index in range(count):
            header = [tasks.add.s(index, member).set(queue="race") for member in range(20)]
            body = tasks.chord_body.s(index, key).set(queue="race")
            results.append(chord(header, body).apply_async())
        assert [result.get(timeout=120) for result in results] == list(range(count))
        time.sleep(0.5)  # a duplicate body would have landed by now
    finally:
        stop_worker(worker)
    runs = [json.loads(item) for item in redis_client.lrange(key, 0, -1)]
    redis_client.delete(key)
    assert len(runs) == count
    by_index = {index: values for index, values in runs}
    assert len(by_index) == count
    for index, values in by_index.items():
        assert values == [index + member for member in range(20)]

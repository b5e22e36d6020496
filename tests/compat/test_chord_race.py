"""200 chords of 20 trivial headers on 2 worker processes x 8 threads: every body runs exactly once."""

from __future__ import annotations

import json
import time
import uuid

from compat import chord
from tests.compat.conftest import start_worker, stop_worker


def send_chords(tasks, body, key: str, count: int, size: int, start: int = 0) -> list:
    """Chords ``start`` .. ``start + count - 1`` on the race queue: chord ``i`` adds ``i`` to each of
    ``0 .. size - 1`` and calls ``body(i, key)``; their results, in order."""
    results = []
    for index in range(start, start + count):
        header = [tasks.add.s(index, member).set(queue="race") for member in range(size)]
        results.append(chord(header, body.s(index, key).set(queue="race")).apply_async())
    return results


def test_every_chord_body_runs_exactly_once_with_the_right_list(tasks, worker_env, redis_client, tmp_path):
    key = f"{worker_env['COMPAT_TEST_NS']}:chords:{uuid.uuid4().hex}"
    env = {**worker_env, "COMPAT_TEST_EXTRA_QUEUES": "race"}
    worker = start_worker(
        env, "tests.compat.worker_app", processes=2, threads=8, queues=["race"], log=tmp_path / "race.log"
    )
    try:
        results = send_chords(tasks, tasks.chord_body, key, 200, 20)
        assert [result.get(timeout=120) for result in results] == list(range(200))
        time.sleep(0.5)  # a duplicate body would have landed by now
    finally:
        stop_worker(worker)
    runs = [json.loads(item) for item in redis_client.lrange(key, 0, -1)]
    redis_client.delete(key)
    assert len(runs) == 200
    by_index = {index: values for index, values in runs}
    assert len(by_index) == 200
    for index, values in by_index.items():
        assert values == [index + member for member in range(20)]

"""Chords on RabbitMQ, exactly once: under concurrent completions and when header members are redelivered.

The barrier is the result store's (Redis), as on the Redis broker; what RabbitMQ adds is redelivery at
once: a worker that dies hands every message it held back, also a header member whose state write and
barrier count are done but whose message was not acknowledged yet. That member runs again; the body must
still be sent, and only once. Real worker processes in a vhost of this module's own, results in the
session's Redis (issue 19).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.compat.brokers import app_copy, rabbit_env
from tests.compat.conftest import start_supervised, start_worker, stop_worker
from tests.compat.test_chord_race import send_chords
from tests.rabbitmq_support import rabbitmq_url  # noqa: F401 - the module's vhost (a fixture)


def race_env(worker_env: dict, url: str, **extra: str) -> dict:
    # Workers killed again and again return what they held prefetched, which counts as a redelivery:
    # a high cap keeps the poison-message rule (tested elsewhere) out of these tests.
    return rabbit_env(
        worker_env, url, COMPAT_TEST_EXTRA_QUEUES="race", COMPAT_TEST_MAX_REDELIVERIES="1000", **extra
    )


def bodies(redis_client, key: str) -> dict[int, list]:
    """Each chord's body runs, by chord index: ``[values, send token, redelivered]`` per run."""
    runs: dict[int, list] = {}
    for item in redis_client.lrange(key, 0, -1):
        index, *run = json.loads(item)
        runs.setdefault(index, []).append(run)
    redis_client.delete(key)
    return runs


def assert_each_body_sent_once(runs: dict[int, list], count: int, size: int) -> None:
    """Every chord's body ran with its header's results in order, from one send: a body may run again
    only as a redelivery of that send (its own worker died before acknowledging it), never from a second
    send by a redelivered header member."""
    assert sorted(runs) == list(range(count))
    for index, seen in runs.items():
        assert all(values == [index + member for member in range(size)] for values, _, _ in seen), seen
        sends = {send for _, send, _ in seen}
        assert len(sends) == 1, f"chord {index}: {len(sends)} sends of its body ran: {seen}"
        assert all(redelivered for _, _, redelivered in seen[1:]), f"chord {index}: {seen}"


def worker_pids(supervisor: int) -> list[int]:
    """The Dramatiq worker processes under a supervisor (its grandchildren: supervisor, master, workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    masters = [pid for pid, parent in parents.items() if parent == supervisor]
    return [pid for pid, parent in parents.items() if parent in masters]


def test_every_chord_body_runs_exactly_once_with_the_right_list(
    worker_env, rabbitmq_url, redis_client, tmp_path  # noqa: F811 - the imported fixture
):
    """200 chords of 20 trivial headers on 2 worker processes x 8 threads (as the Redis test does)."""
    env = race_env(worker_env, rabbitmq_url)
    key = f"{env['COMPAT_TEST_NS']}:chords:{uuid.uuid4().hex}"
    with app_copy(env) as tasks:
        worker = start_worker(env, "tests.compat.worker_app", processes=2, threads=8, queues=["race"],
                              log=tmp_path / "race.log")
        try:
            results = send_chords(tasks, tasks.chord_body_seen, key, 200, 20)
            assert [result.get(timeout=120) for result in results] == list(range(200))
            time.sleep(0.5)  # a duplicate body would have landed by now
        finally:
            stop_worker(worker)
            tasks.app.broker.close()
    assert_each_body_sent_once(bodies(redis_client, key), 200, 20)


def test_chords_complete_once_while_workers_are_killed(
    worker_env, rabbitmq_url, redis_client, tmp_path  # noqa: F811 - the imported fixture
):
    """150 chords of 20 on two supervised groups (1 process x 8 threads each); a worker process is
    SIGKILLed every second, 6 times, alternating between the groups: RabbitMQ hands what it held
    (running, done but not acknowledged, prefetched) to the other group at once."""
    env = race_env(worker_env, rabbitmq_url)
    key = f"{env['COMPAT_TEST_NS']}:chords:{uuid.uuid4().hex}"
    count, size = 150, 20
    with app_copy(env) as tasks:
        logs = [open(tmp_path / f"group{i}.log", "wb") for i in range(2)]  # noqa: SIM115
        groups = [start_supervised(env, log, threads=8, queue="race") for log in logs]
        try:
            assert tasks.add.apply_async((1, 1), queue="race").get(timeout=60) == 2  # a group is up
            results = send_chords(tasks, tasks.chord_body_seen, key, count, size)
            kills = 0
            for round_ in range(6):
                time.sleep(1.0)
                for pid in worker_pids(groups[round_ % 2].pid):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
            assert kills >= 3, "the worker processes were not found to kill"
            assert [result.get(timeout=180) for result in results] == list(range(count))
            time.sleep(1.0)  # a duplicate body would have landed by now
        finally:
            for group in groups:
                stop_worker(group, timeout=30)
            for log in logs:
                log.close()
            tasks.app.broker.close()
    assert_each_body_sent_once(bodies(redis_client, key), count, size)


@pytest.mark.parametrize("point", ["before", "after"])
def test_a_member_redelivered_after_completing_its_chord_sends_the_body_once(
    point, worker_env, rabbitmq_url, redis_client, tmp_path  # noqa: F811 - the imported fixture
):
    """The header member that completes a chord dies just before (or just after) publishing the body,
    once per chord: its message comes back, runs again, and the body is sent, exactly once."""
    env = race_env(worker_env, rabbitmq_url, COMPAT_TEST_CRASH_CHORD=point)
    key = f"{env['COMPAT_TEST_NS']}:chords:{uuid.uuid4().hex}"
    count, size = 3, 4
    with app_copy(env) as tasks, open(tmp_path / "group.log", "wb") as log:
        group = start_supervised(env, log, threads=4, queue="race")
        try:
            for index in range(count):  # one at a time: each one's crash is its own
                (result,) = send_chords(tasks, tasks.chord_body_seen, key, 1, size, start=index)
                assert result.get(timeout=90) == index
                # "after": another thread may run the body before the sender marks its crash
                marker = f"{env['COMPAT_TEST_NS']}:crashed-at-body:{result.id}"
                deadline = time.monotonic() + 10
                while not redis_client.exists(marker) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert redis_client.exists(marker), "the member that completed the chord did not crash"
            time.sleep(1.0)  # a duplicate body would have landed by now
        finally:
            stop_worker(group, timeout=30)
            tasks.app.broker.close()
    assert_each_body_sent_once(bodies(redis_client, key), count, size)

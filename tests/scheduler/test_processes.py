"""Real processes, real Redis: three daemons, one 1-second entry, then SIGKILL the leader.

The issue asks for 60 s; the default here is 20 s of steady state plus the failover (about 30 s
in all) to keep CI time reasonable.  ``SCHED_SOAK_SECONDS=60`` runs the full minute.
Messages are enqueued through the real ``compat`` app (``tests.scheduler.sched_app``) into
Dramatiq's Redis layout and counted there; no worker consumes them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

LEASE_TTL = 3.0
STEADY_SECONDS = float(os.environ.get("SCHED_SOAK_SECONDS", "20"))
ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    """Scheduler daemon processes on one key prefix; killed by pid at the end."""

    def __init__(self, redis_url: str, prefix: str, logs: Path) -> None:
        self.prefix, self.logs = f"{prefix}sched", logs
        self.namespace = f"{prefix}dq"
        self.env = {**os.environ, "SCHEDTEST_REDIS_URL": redis_url, "SCHEDTEST_NAMESPACE": self.namespace}
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, count: int) -> None:
        for index in range(count):
            log = open(self.logs / f"daemon-{len(self.procs)}-{index}.log", "w")
            command = [
                sys.executable,
                "-m",
                "scheduler",
                "--app",
                "tests.scheduler.sched_app:app",
                "--key-prefix",
                self.prefix,
                "--lease-ttl",
                str(LEASE_TTL),
            ]
            proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            self.procs[proc.pid] = proc

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def cluster(redis_url, redis_namespace, tmp_path):
    nodes = Cluster(redis_url, redis_namespace, tmp_path)
    try:
        yield nodes
    finally:
        nodes.stop()


def leader_pid(client, cluster) -> int | None:
    token = client.get(f"{cluster.prefix}:leader")
    return int(token.decode().split(":")[1]) if token else None


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def snapshot(client, cluster) -> dict:
    """Claimed runs (scheduled ms -> task id) and enqueued messages (id -> message) in Redis.

    The daemons keep firing meanwhile, so the messages are read first: a daemon claims a run before it
    enqueues it, so every message read then has its claim when the claims are read. Only the newest
    claim may lack its message (enqueued just after), and ``check_exactly_once`` leaves that one out.
    """
    stored, listed = {}, []  # by the broker's redis_message_id, which Dramatiq lists in the queue
    for key in client.scan_iter(match=f"{cluster.namespace}:*.msgs", count=1000):
        queue = key.decode()[: -len(".msgs")]
        for redis_id, data in client.hgetall(key).items():
            stored[redis_id.decode()] = json.loads(data)
        listed += [m.decode() for m in client.lrange(queue, 0, -1)]
    messages = {m["message_id"]: m for m in stored.values()}
    claims = {}
    for key in client.scan_iter(match=f"{cluster.prefix}:run:tick:*", count=1000):
        claims[int(key.decode().rsplit(":", 1)[1])] = client.get(key).decode()
    return {"claims": claims, "messages": messages, "stored": stored, "listed": listed}


def check_exactly_once(state: dict, cluster) -> list[int]:
    """Every tick from the first to the last claimed one enqueued once; returns the ticks (ms)."""
    claims, messages, stored, listed = state["claims"], state["messages"], state["stored"], state["listed"]
    ticks = sorted(claims)
    assert ticks, "no tick was enqueued"
    if claims[ticks[-1]] not in messages:  # the newest run, claimed after the messages were read
        del claims[ticks.pop()]
    assert ticks == list(range(ticks[0], ticks[-1] + 1000, 1000)), "a tick was lost"
    assert len(listed) == len(set(listed)) == len(stored) == len(ticks), "a tick was enqueued twice"
    assert set(listed) == set(stored)
    assert len(messages) == len(stored) and set(messages) == set(claims.values())
    for ms, task_id in claims.items():
        expected = uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.prefix}:tick:{ms}")
        assert task_id == str(expected)  # the message id carries (entry, scheduled time)
        message = messages[task_id]
        assert message["actor_name"] == "schedtest.tick" and message["kwargs"] == {"source": "beat"}
    return ticks


def lateness(state: dict, ticks: list[int]) -> dict[int, float]:
    """Seconds between each tick's scheduled time and its enqueue."""
    return {ms: (state["messages"][state["claims"][ms]]["message_timestamp"] - ms) / 1000 for ms in ticks}


def test_three_daemons_enqueue_each_tick_once_even_when_the_leader_is_killed(redis_client, cluster):
    cluster.start(3)
    first_leader = wait_for(lambda: leader_pid(redis_client, cluster), timeout=15)
    assert first_leader in cluster.procs, "no daemon took the lease"
    time.sleep(STEADY_SECONDS)

    steady = snapshot(redis_client, cluster)
    ticks = check_exactly_once(steady, cluster)
    assert len(ticks) >= STEADY_SECONDS - 2
    assert max(lateness(steady, ticks).values()) < 1.5  # steady state: on time
    assert leader_pid(redis_client, cluster) == first_leader  # no flapping

    cluster.procs[first_leader].send_signal(signal.SIGKILL)
    killed_at = time.time()
    new_leader = wait_for(
        lambda: (pid := leader_pid(redis_client, cluster)) not in (None, first_leader) and pid, timeout=10
    )
    took_over_after = time.time() - killed_at
    assert new_leader in cluster.procs and new_leader != first_leader
    assert took_over_after <= LEASE_TTL + 1.0, f"takeover took {took_over_after:.1f}s"
    time.sleep(5)

    final = snapshot(redis_client, cluster)
    ticks = check_exactly_once(final, cluster)
    assert ticks[-1] / 1000 >= time.time() - 2.0, "the new leader is not firing"
    late = lateness(final, ticks)
    gap = [ms for ms in ticks if killed_at - 1 <= ms / 1000 <= killed_at + took_over_after]
    assert gap, "no tick fell into the failover gap"
    assert max(late.values()) <= LEASE_TTL + 1.5, "a tick was later than one lease period"
    print(
        f"ticks={len(ticks)} takeover={took_over_after:.2f}s gap_ticks={len(gap)} "
        f"max_late={max(late[ms] for ms in gap):.2f}s"
    )


def test_clean_shutdown_hands_over_at_once(redis_client, cluster):
    cluster.start(2)
    first = wait_for(lambda: leader_pid(redis_client, cluster), timeout=15)
    time.sleep(2)
    cluster.procs[first].send_signal(signal.SIGTERM)
    assert cluster.procs[first].wait(timeout=10) == 0
    stopped_at = time.time()
    second = wait_for(lambda: (pid := leader_pid(redis_client, cluster)) not in (None, first) and pid, 5)
    assert second and time.time() - stopped_at < 1.5  # released, not left to expire
    time.sleep(2)
    check_exactly_once(snapshot(redis_client, cluster), cluster)

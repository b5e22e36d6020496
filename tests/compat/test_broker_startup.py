"""A worker's first connection to the broker, retried as Celery's worker retries it (``startup.py``), and
``broker_connection_timeout`` on the Redis connections."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compat import Celery
from compat.brokers.redis.startup import BrokerUnreachable, connect_at_startup, pauses, startup_policy

ROOT = Path(__file__).resolve().parents[2]


class Refusing:
    """A ping that fails ``times`` times, then answers."""

    def __init__(self, times: int) -> None:
        self.times, self.calls = times, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.times:
            import redis

            raise redis.ConnectionError("Connection refused")
        return True


def test_the_pauses_follow_kombus_schedule():
    schedule = pauses()
    assert [next(schedule) for _ in range(17)] == [*range(2, 31, 2), 30, 30]


def test_retries_until_the_broker_answers_then_gives_up_past_max_retries(caplog):
    slept: list[float] = []
    assert connect_at_startup(Refusing(3), "redis://h", True, 100, sleep=slept.append) == 3
    assert slept == [2, 4, 6]
    assert "Trying again in 2.00 seconds... (1/100)" in caplog.text
    with pytest.raises(BrokerUnreachable, match="cannot connect to redis://h"):
        connect_at_startup(Refusing(5), "redis://h", True, 2, sleep=slept.append)
    ping = Refusing(1)
    with pytest.raises(BrokerUnreachable):
        connect_at_startup(ping, "redis://h", False, 100, sleep=slept.append)
    assert ping.calls == 1  # no retry at all


@pytest.mark.parametrize(
    "settings, policy",
    [
        ({}, (True, 100)),
        ({"broker_connection_retry": False}, (False, 100)),  # Celery 5: unset on_startup follows it
        ({"broker_connection_retry": False, "broker_connection_retry_on_startup": True}, (True, 100)),
        ({"broker_connection_retry_on_startup": False}, (False, 100)),
        ({"broker_connection_max_retries": 0}, (True, None)),  # 0 or None: forever
        ({"broker_connection_max_retries": None}, (True, None)),
        ({"broker_connection_max_retries": 3}, (True, 3)),
    ],
)
def test_the_policy_reads_celerys_three_settings(settings, policy):
    app = Celery("policy", broker="memory://", set_as_current=False)
    app.conf.update(settings)
    assert startup_policy(app.conf) == policy


def test_broker_connection_timeout_bounds_each_connection_attempt():
    app = Celery("timeout", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.broker_connection_timeout = 1.5
    assert app.broker.client.connection_pool.connection_kwargs["socket_connect_timeout"] == 1.5
    default = Celery("timeout-default", broker="redis://127.0.0.1:1/0", set_as_current=False)
    assert default.broker.client.connection_pool.connection_kwargs["socket_connect_timeout"] == 4.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_worker(settings: dict, timeout: float = 60) -> tuple[int, str, float]:
    env = {
        **os.environ,
        "STARTUP_TEST_BROKER": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "STARTUP_TEST_SETTINGS": json.dumps(settings),
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dramatiq", "tests.compat.startup_app", "-p", "1", "-t", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_a_worker_without_startup_retries_exits_with_dramatiqs_connection_status():
    code, log, _ = run_worker({"broker_connection_retry_on_startup": False})
    assert code == 3, log
    assert "Cannot connect to redis://127.0.0.1:" in log and "Giving up" in log
    assert "Trying again" not in log


def test_a_worker_gives_up_after_max_retries():
    code, log, took = run_worker({"broker_connection_max_retries": 1})
    assert code == 3, log
    assert "Trying again in 2.00 seconds... (1/1)" in log and "Giving up" in log
    assert took >= 2  # it did wait the one pause before giving up

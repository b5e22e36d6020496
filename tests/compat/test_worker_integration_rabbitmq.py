"""The worker integration suite (test_worker_integration.py) again, on RabbitMQ: a vhost of this module's
own, results in the session's Redis, a real worker process (issue 19)."""

# ruff: noqa: F401, F403, F811  (the suite's tests are collected here a second time, on these fixtures)
from __future__ import annotations

import time

import pytest

from tests.compat.brokers import app_copy, rabbit_env
from tests.compat.conftest import session_worker
from tests.compat.test_worker_integration import *
from tests.rabbitmq_support import node

# On RabbitMQ the highest number is the most urgent: test_rabbitmq_reliability.py tests that order.
globals().pop("test_priority_jumps_the_backlog")


@pytest.fixture(scope="module")
def worker_env(worker_env, tmp_path_factory):
    rabbit = node(tmp_path_factory.getbasetemp())
    vhost = rabbit.add_vhost()
    try:
        yield rabbit_env(worker_env, rabbit.url(vhost))
    finally:
        rabbit.delete_vhost(vhost)


@pytest.fixture(scope="module")
def tasks(worker_env):
    with app_copy(worker_env) as module:
        yield module
        module.app.broker.close()


@pytest.fixture(scope="module")
def worker(worker_env, tasks, tmp_path_factory):
    yield from session_worker(worker_env, "tests.compat.worker_app", tmp_path_factory)


def test_a_worker_process_waits_for_the_confirm_of_what_its_task_publishes(tasks, worker):
    """A worker acknowledges its message after the task returns: what the task published must be
    confirmed by then, so the worker's sends wait for their confirms instead of pipelining them."""
    seen = tasks.publish_child_and_count.delay().get(timeout=30)
    assert seen["pipelines"] is False
    assert seen["unconfirmed"] == 0
    assert tasks.app.AsyncResult(seen["child"]).get(timeout=30) == 2


def _socket_reads(rabbit, vhost: str) -> dict[str, int]:
    """RabbitMQ's count of socket reads per connection of ``vhost`` (``rabbitmqctl list_connections``)."""
    rows = rabbit.ctl("list_connections", "name", "vhost", "recv_cnt", "--no-table-headers", "--quiet")
    reads = {}
    for line in rows.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1] == vhost:
            reads[parts[0]] = int(parts[2])
    return reads


def test_an_idle_worker_makes_no_broker_calls_but_heartbeats(tasks, worker, worker_env, tmp_path_factory):
    """RabbitMQ pushes deliveries, so an idle worker (and an idle producer) polls nothing: its connections
    carry AMQP heartbeats only (`broker_heartbeat` 120 s: a frame every 60 s). The dashboard's depth sample
    of an idle worker is written without asking RabbitMQ (its queues have nothing ready). Over 8 idle
    seconds RabbitMQ reads at most one frame per connection; a polling consumer is read many times."""
    rabbit = node(tmp_path_factory.getbasetemp())
    vhost = worker_env["COMPAT_TEST_BROKER"].rsplit("/", 1)[1]
    assert tasks.add.delay(2, 3).get(timeout=30) == 5  # the worker consumes: its connections are up
    time.sleep(2)  # its acknowledgement and the producer's confirm are behind us
    before = _socket_reads(rabbit, vhost)
    time.sleep(11)  # a 10-second bucket starts in it: the worker's depth sample
    after = _socket_reads(rabbit, vhost)
    assert len(before) >= 2, f"expected the worker's and the producer's connections in {vhost}: {before}"
    grown = {name: after.get(name, count) - count for name, count in before.items()}
    assert all(reads <= 1 for reads in grown.values()), f"connections read more than a heartbeat: {grown}"

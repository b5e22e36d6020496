"""The worker integration suite (test_worker_integration.py) again, on RabbitMQ: a vhost of this module's
own, results in the session's Redis, a real worker process (issue 19)."""

# ruff: noqa: F401, F403, F811  (the suite's tests are collected here a second time, on these fixtures)
from __future__ import annotations

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

"""Run a worker-integration module on both brokers: Redis and RabbitMQ.

A module that does ``from tests.compat.brokers import tasks, worker, worker_env  # noqa: F401`` gets its
``worker_env``, ``tasks`` and ``worker`` fixtures parametrised over ``redis`` and ``rabbitmq`` (test ids
``...[redis]`` / ``...[rabbitmq]``). On RabbitMQ the broker is a vhost of this module's own
(``tests.rabbitmq_support``); results, dead letters and metrics stay in the session's Redis. The app
module (``tests.compat.worker_app``) is imported a second time with the RabbitMQ URL and stands in for
the first one while the RabbitMQ half runs, so the task names, and the classes rebuilt from them, are
the same on both.
"""

from __future__ import annotations

import importlib
import uuid

import pytest

from tests.compat.conftest import session_worker
from tests.rabbitmq_support import module_copy, node

APP_MODULE = "tests.compat.worker_app"
BROKERS = ("redis", "rabbitmq")


def rabbit_env(worker_env: dict, url: str, **extra: str) -> dict:
    """``worker_env`` for a worker app on the RabbitMQ ``url``, results in the session's Redis."""
    return {
        **worker_env,
        "COMPAT_TEST_BROKER": url,
        "COMPAT_TEST_BACKEND": worker_env.get("COMPAT_TEST_BACKEND") or worker_env["COMPAT_TEST_BROKER"],
        "COMPAT_TEST_NS": f"test:{uuid.uuid4().hex[:10]}",
        **extra,
    }


def app_copy(env: dict):
    """``tests.compat.worker_app`` imported again with ``env``'s broker (a context manager)."""
    keys = [key for key in env if key.startswith("COMPAT_TEST_")]
    return module_copy(APP_MODULE, {key: env[key] for key in keys})


@pytest.fixture(scope="module", params=BROKERS)
def worker_env(request, worker_env, tmp_path_factory):  # noqa: F811 - extends the session's
    if request.param == "redis":
        yield worker_env
        return
    rabbit = node(tmp_path_factory.getbasetemp())
    vhost = rabbit.add_vhost()
    env = rabbit_env(worker_env, rabbit.url(vhost))
    try:
        yield env
    finally:
        rabbit.delete_vhost(vhost)


@pytest.fixture(scope="module")
def tasks(worker_env):  # noqa: F811
    if not worker_env["COMPAT_TEST_BROKER"].startswith("amqp"):
        yield importlib.import_module(APP_MODULE)
        return
    with app_copy(worker_env) as module:
        yield module
        module.app.broker.close()


@pytest.fixture(scope="module")
def worker(worker_env, tasks, tmp_path_factory, request):  # noqa: F811
    if not worker_env["COMPAT_TEST_BROKER"].startswith("amqp"):
        yield request.getfixturevalue("shared_worker")  # the session's Redis worker, as other modules use
        return
    yield from session_worker(worker_env, APP_MODULE, tmp_path_factory)


def on_rabbitmq(tasks) -> bool:
    """Whether ``tasks``' app runs on RabbitMQ (for the few assertions where the brokers differ)."""
    return str(tasks.app.conf.broker_url).startswith("amqp")

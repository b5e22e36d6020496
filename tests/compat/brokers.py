"""The worker app on RabbitMQ, for the RabbitMQ test modules.

``rabbit_env`` is the session's worker env with a RabbitMQ broker URL (a vhost of the module's own,
``tests.rabbitmq_support``); results, dead letters and metrics stay in the session's Redis. ``app_copy``
imports the app module (``tests.compat.worker_app``) a second time with that URL, standing in for the
first while the block runs, so task names are the same on both brokers.
"""

from __future__ import annotations

import uuid

from tests.rabbitmq_support import module_copy

APP_MODULE = "tests.compat.worker_app"


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

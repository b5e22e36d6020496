"""Redis stops for 10 s and comes back: workers reconnect on their own, nothing acknowledged is lost."""

from __future__ import annotations

import time
import uuid

import pytest

from compat import Celery
from compat.exceptions import OperationalError
from tests.compat.conftest import start_worker, stop_worker
from threads.redis_server import PrivateRedis


@pytest.fixture
def durable_redis(tmp_path):
    """A private redis-server with an fsync-always AOF, so a restart on the same port keeps every queue."""
    server = PrivateRedis(tmp_path / "redis", durable=True).start()
    yield server
    server.stop()


def test_workers_ride_out_a_redis_restart(durable_redis, worker_env, tmp_path):
    namespace = f"outage:{uuid.uuid4().hex[:8]}"
    env = {**worker_env, "COMPAT_TEST_BROKER": durable_redis.url, "COMPAT_TEST_NS": namespace}
    app = Celery("outage", broker=durable_redis.url, backend=durable_redis.url, set_as_current=False)
    app.conf.update(
        broker_namespace=namespace, result_namespace=namespace + "-res", task_default_queue="default"
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, "tests.compat.worker_app", threads=2, log=log)
    try:
        assert app.send_task("tests.compat.worker_app.add", args=[1, 1]).get(timeout=10) == 2
        before = app.send_task("tests.compat.worker_app.add", args=[20, 1], countdown=8)
        time.sleep(0.5)
        durable_redis.stop()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="Cannot reach the broker"):
            app.send_task("tests.compat.worker_app.add", args=[1, 2])
        time.sleep(max(0.0, 10 - (time.monotonic() - started)))
        durable_redis.start()
        assert before.get(timeout=40) == 21
        assert app.send_task("tests.compat.worker_app.add", args=[2, 2]).get(timeout=20) == 4
        assert worker.poll() is None
    finally:
        stop_worker(worker)
    text = log.read_text()
    assert text.count("Traceback") <= 2, text[-3000:]
    assert text.count("lost the broker connection") <= 2, text[-3000:]

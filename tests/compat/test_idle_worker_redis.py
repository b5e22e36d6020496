"""What an idle worker asks of Redis, counted by a private redis-server's own command statistics.

Each worker process runs its maintenance every few seconds (dead workers, their messages back; every
second here, so the window sees many passes, each one script call). It asks Redis how long it has been
up (``INFO server``) only when a heartbeat is stale, to tell a real death from a restart that lost the
heartbeats; with every worker alive it never asks.
"""

from __future__ import annotations

import time
import uuid

import redis

from tests.compat.conftest import start_worker, stop_worker
from threads.redis_server import PrivateRedis


def _calls(admin: redis.Redis, command: str) -> int:
    return int(admin.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_an_idle_worker_does_not_ask_redis_for_info(worker_env, tmp_path):
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        namespace = f"test:{uuid.uuid4().hex[:10]}"
        env = {
            **worker_env,
            "COMPAT_TEST_BROKER": server.url,
            "COMPAT_TEST_NS": namespace,
            "COMPAT_TEST_MAINTENANCE_INTERVAL": "1",
        }
        env.pop("COMPAT_TEST_BACKEND", None)
        log = tmp_path / "worker.log"
        proc = start_worker(env, "tests.compat.worker_app", processes=2, threads=2, log=log)
        admin = redis.Redis.from_url(server.url)
        try:
            time.sleep(1)  # past the boot, which may ask once
            before, evals_before = _calls(admin, "info"), _calls(admin, "evalsha")
            time.sleep(7)  # about seven maintenance passes of each of the two processes
            after, evals = _calls(admin, "info"), _calls(admin, "evalsha") - evals_before
        finally:
            stop_worker(proc)
            admin.close()
    finally:
        server.stop()
    assert evals >= 10, f"{evals} scripts in the window: too few maintenance passes to tell"
    assert after - before == 2, f"{after - before - 2} INFO calls from the idle worker (2 are ours)"

"""Celery's ``beat_init``: sent once by a real scheduler daemon process before it fires anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_scheduler_daemon_sends_beat_init_once_with_itself_as_sender(
    redis_url, redis_namespace, redis_client, tmp_path
):
    out = tmp_path / "beat_init.jsonl"
    namespace = f"{redis_namespace}dq"
    env = {**os.environ, "SCHEDTEST_REDIS_URL": redis_url, "SCHEDTEST_NAMESPACE": namespace,
           "SCHEDTEST_BEAT_INIT_OUT": str(out)}
    command = [sys.executable, "-m", "scheduler", "--app", "tests.scheduler.sched_app:app",
               "--key-prefix", f"{redis_namespace}sched", "--lease-ttl", "3"]
    with open(tmp_path / "daemon.log", "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not redis_client.keys(f"{namespace}:*.msgs") and time.monotonic() < deadline:
            time.sleep(0.1)  # until the first tick is enqueued
        assert redis_client.keys(f"{namespace}:*.msgs"), (tmp_path / "daemon.log").read_text()
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert rows == [{"sender": "Daemon", "app_is_app": True, "kwargs": [], "pid": proc.pid}]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave a daemon behind
            proc.wait()

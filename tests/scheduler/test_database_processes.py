"""Three real ``manage.py scheduler`` daemons on the test database (PostgreSQL with ``DATABASE_URL``) and a
private Redis: interval, crontab, one-off and clocked rows, an edit, a new row and a disable made while they
run, then SIGKILL the leader.  Every message the daemons enqueued is counted in Redis: each due run once,
edits visible within 5 s.  No worker consumes the messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from compat.contrib.django.beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL = 3.0
TASK = "threads.tasks.batch_update_counters"  # a registered task; nothing runs it here
pytestmark = pytest.mark.django_db(transaction=True)  # rows committed: the daemons see them


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Daemons:
    def __init__(self, redis_url: str, prefix: str, logs: Path) -> None:
        self.prefix, self.namespace, self.logs = f"{prefix}sched", f"{prefix}dq", logs
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "threads.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_BROKER_NAMESPACE": self.namespace,
            "CELERY_BEAT_SCHEDULER": "django_celery_beat.schedulers:DatabaseScheduler",
            "THREADS_COUNTER_FLUSH_INTERVAL": "0",
        }
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, count: int) -> None:
        for index in range(count):
            log = open(self.logs / f"daemon-{index}.log", "w")  # noqa: SIM115 - closed with the process
            command = [
                sys.executable,
                "manage.py",
                "scheduler",
                "--key-prefix",
                self.prefix,
                "--lease-ttl",
                str(LEASE_TTL),
            ]
            proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            self.procs[proc.pid] = proc

    def leader(self, client) -> int | None:
        token = client.get(f"{self.prefix}:leader")
        return int(token.decode().split(":")[1]) if token else None

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def daemons(transactional_db, redis_url, redis_namespace, tmp_path):
    group = Daemons(redis_url, redis_namespace, tmp_path)
    try:
        yield group
    finally:
        group.stop()
        for log in sorted(tmp_path.glob("daemon-*.log")):
            text = log.read_text()
            assert "Traceback" not in text, f"{log.name}:\n{text[-4000:]}"


def messages(client, namespace: str) -> dict[str, list[dict]]:
    """Enqueued messages by periodic task name, oldest first (their enqueue time in seconds as ``at``)."""
    found: dict[str, list[dict]] = {}
    for key in client.scan_iter(match=f"{namespace}:*.msgs", count=1000):
        for data in client.hgetall(key).values():
            message = json.loads(data)
            name = message["options"]["headers"]["periodic_task_name"]
            found.setdefault(name, []).append({**message, "at": message["message_timestamp"] / 1000})
    return {name: sorted(ms, key=lambda m: m["at"]) for name, ms in found.items()}


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def interval(seconds: int) -> IntervalSchedule:
    return IntervalSchedule.objects.create(every=seconds, period="seconds")


def test_three_daemons_fire_each_row_once_through_edits_and_a_killed_leader(redis_client, daemons):
    started = datetime.now(UTC)
    PeriodicTask.objects.create(name="iv", task=TASK, interval=interval(2), args="[1]")
    PeriodicTask.objects.create(name="cr", task=TASK, crontab=CrontabSchedule.objects.create(minute="*"))
    PeriodicTask.objects.create(name="once", task=TASK, interval=interval(3), one_off=True)
    at = ClockedSchedule.objects.create(clocked_time=started + timedelta(seconds=12))
    PeriodicTask.objects.create(name="clk", task=TASK, clocked=at, one_off=True, kwargs='{"account": 7}')
    daemons.start(3)
    first = wait_for(lambda: daemons.leader(redis_client), timeout=30)
    assert first in daemons.procs, "no daemon took the lease"
    leading_since = datetime.now(UTC)
    wait_for(lambda: messages(redis_client, daemons.namespace).get("iv"), timeout=15)

    time.sleep(4)
    row = PeriodicTask.objects.get(name="iv")  # the edit: every 2 s -> every 1 s
    row.interval = interval(1)
    row.save()
    edited = time.time()
    PeriodicTask.objects.create(name="new", task=TASK, interval=interval(1))
    added = time.time()
    time.sleep(6)

    leader = daemons.leader(redis_client)
    daemons.procs[leader].send_signal(signal.SIGKILL)
    killed = time.time()
    successor = wait_for(lambda: (p := daemons.leader(redis_client)) not in (None, leader) and p, timeout=10)
    assert successor in daemons.procs
    took_over = time.time() - killed
    time.sleep(3)
    PeriodicTask.objects.filter(name="new").update(enabled=False)  # a bulk update: no signal ...
    from compat.contrib.django.beat.models import PeriodicTasks

    PeriodicTasks.update_changed()  # ... so, as with django-celery-beat, say so
    disabled = time.time()
    # run across at least one minute boundary after a leader was elected, for the crontab row
    boundary = (leading_since + timedelta(minutes=1)).replace(second=0, microsecond=0)
    time.sleep(max(6.0, boundary.timestamp() + 4 - time.time()))
    ended = time.time()
    for proc in daemons.procs.values():  # a daemon writes a row's run just after enqueueing it: stop
        proc.send_signal(signal.SIGTERM)  # them (gracefully) before reading both
    for proc in daemons.procs.values():
        proc.wait(timeout=20)

    seen = messages(redis_client, daemons.namespace)
    all_ids = [m["message_id"] for ms in seen.values() for m in ms]
    assert len(all_ids) == len(set(all_ids)), "a message was enqueued twice"

    iv = [m["at"] for m in seen["iv"]]
    gaps = [b - a for a, b in zip(iv, iv[1:], strict=False)]
    assert min(gaps) > 0.5, f"two runs of one interval came together: {gaps}"  # never twice
    assert max(gaps) <= 2 + LEASE_TTL + 1.5, f"a run was lost: {gaps}"  # late across the failover at most
    first_fast = next(b for a, b in zip(iv, iv[1:], strict=False) if b > edited and b - a < 1.5)
    assert first_fast - edited < 5, f"the edit took {first_fast - edited:.1f}s to show"
    assert seen["new"][0]["at"] - added < 5
    assert not [m for m in seen["new"] if m["at"] > disabled + 1.5], "a disabled row kept firing"

    assert len(seen["once"]) == 1 and len(seen["clk"]) == 1  # one-offs: once, never again
    due = max(started.timestamp() + 3, leading_since.timestamp())  # rows loaded at start, not at a change
    assert seen["once"][0]["at"] - due < 1.5 and seen["iv"][0]["at"] - leading_since.timestamp() < 3.5
    assert seen["clk"][0]["at"] >= at.clocked_time.timestamp() and seen["clk"][0]["kwargs"] == {"account": 7}
    minutes = [m["at"] for m in seen["cr"]]
    expected = {
        int(t // 60) for t in range(int(leading_since.timestamp()) + 1, int(ended) - 2) if t % 60 == 0
    }
    assert {int(t // 60) for t in minutes} >= expected and len(minutes) == len(
        {int(t // 60) for t in minutes}
    )
    for name in ("once", "clk"):
        row = PeriodicTask.objects.get(name=name)
        assert not row.enabled and row.total_run_count == 0  # django-celery-beat's one-off end state
    row = PeriodicTask.objects.get(name="iv")
    assert row.total_run_count == len(iv) and abs(row.last_run_at.timestamp() - iv[-1]) < 1.0
    print(
        f"iv_runs={len(iv)} takeover={took_over:.2f}s edit_visible={first_fast - edited:.2f}s "
        f"max_gap={max(gaps):.2f}s ran={ended - started.timestamp():.0f}s"
    )

"""``python -m bench --broker rabbitmq``: compat, stock Dramatiq and Celery with RabbitMQ as the broker.

Issue 19's comparison: the same enqueue loops and drains as the Redis run (the public method's trivial
task, then the no-op one), at the same concurrency, with the broker on RabbitMQ and results (and the
bench's completion counters) on the bench's private Redis. Each (repeat, stack) client runs in a vhost
of its own, made with ``rabbitmqctl`` and deleted afterwards, so no stack sees another's queues (their
queue arguments differ: compat declares ``x-max-priority``, stock Dramatiq and Celery do not) and a run
never touches the node's other vhosts. The Redis readings of the Redis run (commands, bytes, Redis CPU per
message) would only measure the result store here, so they are left out.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from typing import Any
from urllib.parse import urlsplit

from . import report

#: the node, without a vhost: each client gets ``<this>/<its vhost>``
BASE_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672").rstrip("/")
USER = urlsplit(BASE_URL).username or "guest"
CTL = os.environ.get("BENCH_RABBITMQCTL", "rabbitmqctl")

#: the stacks that run on RabbitMQ, in table order (``dramatiq-confirms``: stock Dramatiq with compat's
#: publisher confirms and ``x-max-priority``, to tell what those cost from what the facade costs)
STACKS = ["compat", "dramatiq", "dramatiq-confirms", "celery"]
#: the workloads (``bench.client.PHASES`` names) of the RabbitMQ run
PHASES = ["public", "enqueue_and_drain", "idle_latency"]

#: figures about the Redis broker (commands, bytes, Redis CPU): on RabbitMQ they would read the result store
REDIS_READINGS = frozenset(
    {
        "public_redis_cpu_us",
        "public_redis_cmd_us",
        "enqueue_cmds_per_msg",
        "enqueue_wire_bytes_per_msg",
        "stored_bytes_per_msg",
        "redis_cmds_per_msg",
        "wire_bytes_per_msg",
        "_commands",
    }
)

_ROWS = [
    "public_enqueue_rate",
    "public_enqueue_call_p50_us",
    "public_drain_rate",
    "public_boot_drain_rate",
    "public_worker_cpu_us",
    "public_rss_mb",
    "enqueue_rate",
    "enqueue_call_p50_us",
    "enqueue_call_p99_us",
    "enqueue_cpu_us",
    "drain_rate",
    "worker_rss_mb",
    "idle_start_p50_ms",
    "idle_start_p99_ms",
    "idle_e2e_p50_ms",
    "idle_e2e_p99_ms",
]
#: the RabbitMQ table's rows, labelled as in the Redis run's table
METRICS: report.Metrics = [row for key in _ROWS for row in report.METRICS if row[0] == key]


def ctl(*args: str) -> str:
    """Run ``rabbitmqctl`` (the node's own CLI: it needs the node's Erlang cookie, so run as root)."""
    done = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


class Vhost:
    """A fresh vhost for one client run, with every permission for the bench's user."""

    def __init__(self, label: str) -> None:
        self.name = f"bench-{label}-{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        return f"{BASE_URL}/{self.name}"

    def __enter__(self) -> Vhost:
        ctl("add_vhost", self.name)
        try:
            ctl("set_permissions", "-p", self.name, USER, ".*", ".*", ".*")
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        ctl("delete_vhost", self.name)


def version() -> str:
    """The node's RabbitMQ version (``rabbitmqctl version``), or ``?``."""
    try:
        return ctl("version").strip() or "?"
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return "?"


def checks(runs: list[dict[str, dict[str, Any]]], summary: dict[str, Any]) -> list[tuple]:
    """Issue 19's targets on RabbitMQ: ratios compat/other within each repeat, on the public method's
    enqueue loop and drain (results ignored), and compat's idle start latency."""

    def vs(key: str, other: str) -> dict | None:
        return report.pair(runs, key, other, key)

    enqueue, drain = "public_enqueue_rate", "public_drain_rate"
    idle = summary["stacks"].get("idle_start_p50_ms", {}).get(report.SUBJECT)
    return [
        ("#19", "enqueue >= 0.9x stock Dramatiq (RabbitmqBroker)", vs(enqueue, "dramatiq"), ">=", 0.9, "x"),
        ("#19", "drain >= 0.9x stock Dramatiq (RabbitmqBroker)", vs(drain, "dramatiq"), ">=", 0.9, "x"),
        ("#19", "enqueue >= 2x Celery on RabbitMQ", vs(enqueue, "celery"), ">=", 2.0, "x"),
        ("#19", "drain >= 2x Celery on RabbitMQ", vs(drain, "celery"), ">=", 2.0, "x"),
        ("#19", "idle enqueue->start p50 <= 5 ms", idle, "<=", 5.0, "ms"),
    ]

"""The public benchmark's method (steventen/python_queue_benchmark), measured the same way on every stack.

Its method: a trivial task that only notes the time (no Redis call of its own), 20,000 ``delay(i)`` calls
from one thread with the workers stopped, then the workers started and the drain timed to the last
job. Here every stack runs 2 processes x 8 threads (the original ran 10 workers of each library's own
kind), completions are counted without Redis (``bench.marks``), and the repeats are interleaved
between stacks by ``python -m bench``. Two drain figures: first to last completion (worker boot
excluded, the headline) and worker start to last completion (the original's stopwatch, boot included).

The same drain gives the "limit" figures: worker CPU per message (``/proc`` of the worker process
groups) and Redis CPU per message (``INFO cpu``; ``INFO commandstats`` usec for its command time alone),
both from the first completion to the last, which leaves the workers' boot out.
"""

from __future__ import annotations

import time

from . import env, marks
from .workloads import Ctx, Patience, pct


def wait_marks(ctx: Ctx, target: int, label: str, timeout: float = 600.0) -> int:
    """Poll the workers' mark files (2 ms) until ``target`` completions; returns the count seen."""
    patience = Patience(label, target, timeout)
    last_report = 0.0
    while True:
        count = marks.read()[0]
        if count >= target:
            return count
        patience.check(count)
        now = time.monotonic()
        if now - last_report > 0.5:
            ctx.workers.check_alive()
            ctx.progress(f"{label} {count}/{target}")
            last_report = now
        time.sleep(0.002)


def run(ctx: Ctx, task: str, key: str) -> None:
    n = ctx.sizes.public
    ctx.workers.stop()
    marks.clear()
    ctx.progress(f"{key}: enqueue {n}")
    wall, cpu, per_call = ctx.stack.timed_loop(task, n, lambda i: (i,))
    spawned = time.time()
    ctx.workers.start()
    wait_marks(ctx, 1, key)
    worker0, redis0, usec0 = ctx.workers.cpu_s(), env.redis_cpu_s(ctx.r), env.command_usec(ctx.r)
    at_first = marks.read()[0]
    wait_marks(ctx, n, key)
    worker1, redis1, usec1 = ctx.workers.cpu_s(), env.redis_cpu_s(ctx.r), env.command_usec(ctx.r)
    count, first, last = marks.read()
    measured = max(1, count - at_first)
    ctx.out.update(
        {
            f"{key}_enqueue_rate": n / wall,
            f"{key}_enqueue_call_p50_us": pct(per_call, 50) * 1e6,
            f"{key}_enqueue_cpu_us": cpu / n * 1e6,
            f"{key}_drain_rate": (count - 1) / max(last - first, 1e-6),
            f"{key}_boot_drain_rate": count / max(last - spawned, 1e-6),
            f"{key}_worker_cpu_us": (worker1 - worker0) / measured * 1e6,
            f"{key}_redis_cpu_us": (redis1 - redis0) / measured * 1e6,
            f"{key}_redis_cmd_us": (usec1 - usec0) / measured,
            f"{key}_rss_mb": ctx.workers.rss_mb(),
        }
    )
    if count != n:  # more than sent: a redelivery; the rate above counted it
        ctx.out[f"{key}_extra_runs"] = count - n


def public(ctx: Ctx) -> None:
    """Results ignored (compat and Celery ``ignore_result=True``; the others store none by default)."""
    run(ctx, "trivial", "public")


def public_results(ctx: Ctx) -> None:
    """Results stored: the trivial task returns its argument and the stack's result backend keeps it."""
    run(ctx, "trivial_r", "public_r")

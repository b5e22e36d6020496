"""The workloads, each run the same way on every stack. Each returns a flat dict of named figures.

Throughput phases enqueue with the workers stopped, then start them and time the first to the last
completion (the tasks count themselves with one INCR), so neither enqueue nor worker boot is in the drain
figure. Latency phases run on idle, already started workers.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from . import counters, env
from .stacks import Stack


@dataclass
class Sizes:
    """How much of each workload to run (``--quick`` shrinks these)."""

    public: int = 20_000
    enqueue: int = 20_000
    results_drain: int = 5_000
    payload_1k: int = 5_000
    payload_100k: int = 500
    retry: int = 2_000
    idle_samples: int = 40
    idle_window: float = 10.0
    chain_samples: int = 20
    group_size: int = 1_000
    chord_size: int = 100
    chord_samples: int = 15  # single pairs vary 0.7-1.8x on a 2-core VM; the median needs many
    load_rate: int = 300
    load_seconds: float = 5.0

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            public=2_000,
            enqueue=2_000,
            results_drain=1_000,
            payload_1k=1_000,
            payload_100k=100,
            retry=400,
            idle_samples=15,
            idle_window=6.0,
            chain_samples=10,
            group_size=1_000,
            chord_size=100,
            chord_samples=3,
            load_rate=300,
            load_seconds=2.0,
        )


@dataclass
class Ctx:
    stack: Stack
    r: redis.Redis
    workers: env.WorkerGroup
    sizes: Sizes
    prefix: str
    progress: Callable[[str], None]
    polls: int = 0
    out: dict[str, Any] = field(default_factory=dict)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank on sorted values)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- helpers -----------------------------------------------------------------------------------------
def reset_counters(ctx: Ctx) -> None:
    ctx.r.delete(counters.DONE, counters.FIRST, counters.LATENCY)


class Patience:
    """When a wait for completions gives up: after ``timeout`` seconds, or sooner once no completion came
    for ``stall`` seconds (a peer whose workers took nothing: its phase is reported as an error and the run
    goes on, instead of sitting out the whole timeout)."""

    def __init__(self, label: str, target: int, timeout: float = 600.0, stall: float = 60.0) -> None:
        self.label, self.target, self.timeout, self.stall = label, target, timeout, stall
        self.started = self.progressed = time.monotonic()
        self.seen = -1

    def check(self, count: int) -> None:
        """Raise ``TimeoutError`` if waiting for ``count`` to reach the target should stop now."""
        now = time.monotonic()
        if count != self.seen:
            self.seen, self.progressed = count, now
        if now - self.started > self.timeout:
            raise TimeoutError(f"{self.label}: {count}/{self.target} done after {self.timeout:.0f}s")
        if now - self.progressed > self.stall:
            raise TimeoutError(
                f"{self.label}: {count}/{self.target} done, none for {now - self.progressed:.0f}s"
            )


def wait_done(ctx: Ctx, target: int, label: str, timeout: float = 600.0) -> float:
    """Poll the completion counter (2 ms) until it reaches ``target``; returns the time it did."""
    patience = Patience(label, target, timeout)
    last_report = 0.0
    while True:
        ctx.polls += 1
        count = int(ctx.r.get(counters.DONE) or 0)
        now = time.time()
        if count >= target:
            return now
        patience.check(count)
        if now - last_report > 0.5:
            ctx.workers.check_alive()
            ctx.progress(f"{label} {count}/{target}")
            last_report = now
        time.sleep(0.002)


def drain(ctx: Ctx, n: int, label: str) -> dict[str, float]:
    """Start the workers on ``n`` waiting messages; rate from first to last completion."""
    ctx.workers.start()
    end = wait_done(ctx, n, label)
    first = float(ctx.r.get(counters.FIRST))
    return {"rate": (n - 1) / max(end - first, 1e-6), "seconds": end - first}


def bench_overhead(ctx: Ctx, completions: int, polls: int) -> int:
    """Redis calls the bench itself caused: one INCR per completion, one SET per phase, the polls."""
    return completions + 1 + polls


# -- W1 + W2: enqueue and drain of no-ops -------------------------------------------------------------
def enqueue_and_drain(ctx: Ctx) -> None:
    n = ctx.sizes.enqueue
    ctx.workers.stop()
    warm = 100
    ctx.stack.timed_loop("noop", warm)
    reset_counters(ctx)
    cmds0, net0, polls0 = env.command_count(ctx.r), env.net_bytes(ctx.r), ctx.polls
    ctx.progress(f"enqueue {n}")
    wall, cpu, per_call = ctx.stack.timed_loop("noop", n)
    cmds1, net1 = env.command_count(ctx.r), env.net_bytes(ctx.r)
    enq_cmds = sum(env.commands_between(cmds0, cmds1).values())
    total = n + warm
    stored = env.stored_bytes(ctx.r, ctx.stack.prefixes(ctx.prefix))
    ctx.out.update(
        enqueue_rate=n / wall,
        enqueue_call_p50_us=pct(per_call, 50) * 1e6,
        enqueue_call_p99_us=pct(per_call, 99) * 1e6,
        enqueue_cpu_us=cpu / n * 1e6,
        enqueue_cmds_per_msg=enq_cmds / n,
        enqueue_wire_bytes_per_msg=(net1 - net0) / n,
        stored_bytes_per_msg=stored / total,
    )
    result = drain(ctx, total, "drain")
    cmds2, net2 = env.command_count(ctx.r), env.net_bytes(ctx.r)
    delta = env.commands_between(cmds0, cmds2)
    # Left out: the tasks' INCR and first-completion SET, the bench's polls and its GET of that time,
    # and the SCAN / MEMORY USAGE calls of the stored-bytes reading.
    overhead = bench_overhead(ctx, total, ctx.polls - polls0) + 1
    scan_calls = delta.get("memory|usage", 0) + delta.get("scan", 0)
    ctx.out.update(
        drain_rate=result["rate"],
        redis_cmds_per_msg=(sum(delta.values()) - overhead - scan_calls) / total,
        wire_bytes_per_msg=(net2 - net0) / total,
        worker_rss_mb=ctx.workers.rss_mb(),
        _commands=delta,
    )


# -- W2c: idle latency, get() wake-up, idle cost ------------------------------------------------------
#: the requests that poll: script calls and blocking pops (Dramatiq, compat, Celery, Huey), stream reads
#: (taskiq)
POLLS = ("evalsha", "eval", "blpop", "brpop", "bzpopmin", "xreadgroup")


def idle_latency(ctx: Ctx) -> None:
    ctx.workers.ensure_started()
    ctx.stack.timed(time.time())  # a worker that just started is warm after this
    time.sleep(1.5)  # let every consumer fall idle
    starts, e2e, wake = [], [], []
    for i in range(ctx.sizes.idle_samples):
        ctx.progress(f"idle latency {i}/{ctx.sizes.idle_samples}")
        time.sleep(random.uniform(0.15, 0.35))
        sent = time.time()
        start, finish = ctx.stack.timed(sent)
        got = time.time()
        starts.append(start - sent)
        e2e.append(got - sent)
        wake.append(got - finish)
    ctx.out.update(
        idle_start_p50_ms=pct(starts, 50) * 1e3,
        idle_start_p99_ms=pct(starts, 99) * 1e3,
        idle_e2e_p50_ms=pct(e2e, 50) * 1e3,
        idle_e2e_p99_ms=pct(e2e, 99) * 1e3,
        get_wake_p50_ms=pct(wake, 50) * 1e3,
        get_wake_p99_ms=pct(wake, 99) * 1e3,
    )


def idle_calls(ctx: Ctx) -> None:
    ctx.workers.ensure_started()
    time.sleep(1.0)
    window = ctx.sizes.idle_window
    ctx.progress(f"idle Redis calls over {window:.0f}s")
    before = env.command_count(ctx.r)
    time.sleep(window)
    delta = env.commands_between(before, env.command_count(ctx.r))
    ctx.out["idle_redis_calls_per_s"] = sum(delta.values()) / window
    # Round trips that poll: script calls and blocking pops (commandstats also counts each command a
    # Lua script runs, so the figure above is Redis's work, this one the clients' requests).
    polls = sum(delta.get(name, 0) for name in POLLS)
    ctx.out["idle_polls_per_s"] = polls / window
    ctx.out["_idle_commands"] = delta


# -- W2b: latency under load --------------------------------------------------------------------------
def loaded_latency(ctx: Ctx) -> None:
    """An open-loop producer at a fixed rate (the same for every stack); every 10th task is stamped."""
    ctx.workers.ensure_started()
    reset_counters(ctx)
    rate, seconds = ctx.sizes.load_rate, ctx.sizes.load_seconds
    noop, stamp = ctx.stack.sender("noop"), ctx.stack.sender("stamp")
    total = int(rate * seconds)
    ctx.progress(f"latency under load ({rate}/s for {seconds:.0f}s)")
    t0 = time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        if i % 10 == 0:
            stamp(time.time())
        else:
            noop()
    behind = time.perf_counter() - (t0 + total / rate)
    wait_done(ctx, total, "load drain")
    samples = [float(x) for x in ctx.r.lrange(counters.LATENCY, 0, -1)]
    ctx.out.update(
        load_start_p50_ms=pct(samples, 50) * 1e3,
        load_start_p99_ms=pct(samples, 99) * 1e3,
        load_producer_lag_s=max(0.0, behind),
    )


# -- W3/W4: canvas ------------------------------------------------------------------------------------
def canvas(ctx: Ctx) -> None:
    ctx.workers.ensure_started()
    stack, sizes = ctx.stack, ctx.sizes
    times = []
    for i in range(sizes.chain_samples):
        ctx.progress(f"chain of 5 {i}/{sizes.chain_samples}")
        time.sleep(random.uniform(0.15, 0.35))
        t0 = time.perf_counter()
        stack.chain5()
        times.append(time.perf_counter() - t0)
    ctx.out["chain5_p50_ms"] = statistics.median(times) * 1e3

    n = sizes.group_size
    ctx.progress(f"{n} x delay()")
    send = stack.sender("step")
    handles = []
    t0 = time.perf_counter()
    for _ in range(n):
        handles.append(send())
    singles = time.perf_counter() - t0
    stack.wait_all(handles)
    ctx.progress(f"group of {n}")
    time.sleep(0.5)
    t0 = time.perf_counter()
    handle = stack.group_enqueue(n)
    enqueued = time.perf_counter() - t0
    stack.group_wait(handle)
    done = time.perf_counter() - t0
    ctx.out.update(
        group_enqueue_ms=enqueued * 1e3,
        delay_x_group_ms=singles * 1e3,
        group_speedup=singles / enqueued,
        group_complete_ms=done * 1e3,
    )

    chord_times, group_times = [], []
    for i in range(sizes.chord_samples):
        ctx.progress(f"chord of {sizes.chord_size} {i}/{sizes.chord_samples}")
        time.sleep(0.3)
        t0 = time.perf_counter()
        stack.group_wait(stack.group_enqueue(sizes.chord_size))
        group_times.append(time.perf_counter() - t0)
        time.sleep(0.3)
        t0 = time.perf_counter()
        stack.chord_run(sizes.chord_size)
        chord_times.append(time.perf_counter() - t0)
    chord_ms, group_ms = statistics.median(chord_times) * 1e3, statistics.median(group_times) * 1e3
    ctx.out.update(chord_ms=chord_ms, group_small_ms=group_ms, chord_over_group=chord_ms / group_ms)


# -- W2 with results, W6 payloads, W5 retries: enqueue stopped, then drain ----------------------------
def stopped_drain(ctx: Ctx, key: str, count: int, task: str, args: Callable[[int], tuple] | None) -> None:
    ctx.workers.stop()
    reset_counters(ctx)
    net0 = env.net_bytes(ctx.r)
    ctx.progress(f"{key}: enqueue {count}")
    enqueue_s = ctx.stack.timed_loop(task, count, args)[0]
    result = drain(ctx, count, key)
    ctx.out[f"{key}_enqueue_rate"] = count / enqueue_s
    ctx.out[f"{key}_drain_rate"] = result["rate"]
    ctx.out[f"{key}_wire_bytes_per_msg"] = (env.net_bytes(ctx.r) - net0) / count


def results_drain(ctx: Ctx) -> None:
    stopped_drain(ctx, "results", ctx.sizes.results_drain, "noop_r", None)


def payloads(ctx: Ctx) -> None:
    data_1k = os.urandom(768).hex()[:1024]
    data_100k = os.urandom(51_200).hex()[:102_400]
    stopped_drain(ctx, "p1k", ctx.sizes.payload_1k, "payload", lambda i: (data_1k,))
    stopped_drain(ctx, "p100k", ctx.sizes.payload_100k, "payload", lambda i: (data_100k,))


def retries(ctx: Ctx) -> None:
    stopped_drain(ctx, "retry", ctx.sizes.retry, "flaky", lambda i: (i,))


PHASES: list[Callable[[Ctx], None]] = [
    enqueue_and_drain,
    idle_latency,
    idle_calls,
    canvas,
    loaded_latency,
    results_drain,
    payloads,
    retries,
]

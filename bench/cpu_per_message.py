"""``python -m bench.cpu_per_message``: CPU per message, not messages per second, compat vs stock Dramatiq.

Throughput on this 2-core machine moves with whatever else runs on it; CPU time spent per message moves
far less. This measures, on a private Redis, with the public method's trivial task (no Redis call of its
own, completions counted in memory: ``bench.marks``):

* **producer**: CPU of the client process per ``delay()`` / ``send()`` (``time.process_time``), with the
  workers stopped, after 100 untimed warm-up sends;
* **worker**: user + system CPU of the worker process groups (``/proc/<pid>/stat``, the same CLI and
  ``-p 2 -t 8`` as ``python -m bench``) per message, from the first completion to the last, so worker
  boot is left out;
* **Redis**: commands per message (``INFO commandstats`` deltas, commands run by Lua scripts included)
  for the enqueue and for the drain, and Redis CPU per message over the drain (``INFO cpu``).

Each (repeat, case) runs in its own client process against freshly started workers and an emptied Redis;
cases rotate between repeats; the table shows medians (min-max). ``--profile CASE`` instead runs one case
with the worker in this process under ``cProfile``, timed by thread CPU (each thread started after boot has
its own profiler, and so has the producer loop) and prints the top functions per message: exact call counts,
though cProfile's own overhead inflates small, frequent functions. ``--callgrind`` counts instructions
instead (valgrind's callgrind, zeroed after the warm-up and dumped at the last completion; the worker runs
in-process): they do not move with the machine's load, so a change of a few percent shows, but they leave
out the kernel's share (system calls, context switches) that CPU time includes.

Examples::

    .venv/bin/python -m bench.cpu_per_message                      # 3 repeats x 10,000 messages
    .venv/bin/python -m bench.cpu_per_message --repeats 5 --messages 20000
    .venv/bin/python -m bench.cpu_per_message --cases compat:trivial,dramatiq:trivial
    .venv/bin/python -m bench.cpu_per_message --profile compat:trivial_r --top 40
    .venv/bin/python -m bench.cpu_per_message --callgrind --messages 1000   # about a minute per case
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from . import env, marks

DEFAULT_CASES = "compat:trivial,compat:trivial_r,dramatiq:trivial"
WARMUP = 100
LABELS = {"trivial": "results ignored", "trivial_r": "results stored"}
#: seconds to let the last messages' after-hooks and acks finish once their completion was seen
SETTLE = 0.3


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cpu_per_message", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--cases", default=DEFAULT_CASES, help=f"stack:task pairs (default {DEFAULT_CASES})")
    parser.add_argument("--messages", type=int, default=10_000, help="messages per case and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", metavar="CASE", help="profile one stack:task in-process with cProfile")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions under valgrind's callgrind instead of CPU time (load-independent; slow: "
        "use --messages 1000-2000)",
    )
    parser.add_argument("--threads", type=int, default=8, help="worker threads of the --profile worker")
    parser.add_argument("--top", type=int, default=30, help="rows of each --profile listing")
    parser.add_argument("--json", metavar="FILE", help="also write every figure of every repeat as JSON")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "N", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--cg-producer", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--cg-worker", nargs=2, metavar=("CASE", "THREADS"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- one case, in its own process ------------------------------------------------------------------
def _wait_marks(
    target: int, workers: Any = None, timeout: float = 600.0, directory: Path = marks.DIR
) -> None:
    deadline = time.monotonic() + timeout
    while marks.read(directory)[0] < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{marks.read(directory)[0]}/{target} done after {timeout:.0f}s")
        if workers is not None and hasattr(workers, "check_alive"):
            workers.check_alive()
        elif workers is not None and workers.poll() is not None:
            raise RuntimeError(f"the worker exited with {workers.returncode}")
        time.sleep(0.002)


def _per(delta: dict[str, int], n: int) -> dict[str, float]:
    return {name: count / n for name, count in sorted(delta.items(), key=lambda kv: -kv[1])}


def run_case(case: str, n: int, out: Path) -> None:
    """Enqueue ``n`` with the workers stopped (producer CPU, commands), then drain (worker CPU, commands)."""
    from . import counters, stacks

    name, task = case.split(":")
    run_dir = Path(os.environ["BENCH_RUN_DIR"])
    stack = stacks.load(name)
    r = redis.Redis.from_url(counters.URL)
    log = run_dir / f"workers-{name}.log"
    workers = env.WorkerGroup(stack.worker_commands(), dict(os.environ, PYTHONUNBUFFERED="1"), run_dir, log)
    marks.clear()
    send = stack.sender(task)
    for i in range(WARMUP):
        send(i)
    c0 = env.command_count(r)
    cpu0 = time.process_time()
    for i in range(n):
        send(i)
    producer_cpu = time.process_time() - cpu0
    c1 = env.command_count(r)
    total = n + WARMUP
    try:
        workers.start()
        _wait_marks(1, workers)
        worker0, redis0, c2 = workers.cpu_s(), env.redis_cpu_s(r), env.command_count(r)
        at_first = marks.read()[0]
        _wait_marks(total, workers)
        time.sleep(SETTLE)
        worker1, redis1, c3 = workers.cpu_s(), env.redis_cpu_s(r), env.command_count(r)
    finally:
        workers.stop()
    measured = max(1, total - at_first)
    enqueue_cmds = env.commands_between(c0, c1)
    drain_cmds = env.commands_between(c2, c3)
    out.write_text(
        json.dumps(
            {
                "producer_cpu_us": producer_cpu / n * 1e6,
                "worker_cpu_us": (worker1 - worker0) / measured * 1e6,
                "redis_cpu_us": (redis1 - redis0) / measured * 1e6,
                "enqueue_cmds": sum(enqueue_cmds.values()) / n,
                "drain_cmds": sum(drain_cmds.values()) / measured,
                "enqueue_by_cmd": _per(enqueue_cmds, n),
                "drain_by_cmd": _per(drain_cmds, measured),
            }
        )
    )


# -- in-process profile ----------------------------------------------------------------------------
def profile_case(case: str, n: int, threads: int, top: int) -> None:
    """Enqueue ``n`` under cProfile, then drain them with an in-process Dramatiq worker, every thread
    profiled (by thread CPU time); print the top functions per message."""
    import cProfile
    import pstats
    import threading

    import dramatiq

    from . import stacks

    name, task = case.split(":")
    stack = stacks.load(name)
    broker = dramatiq.get_broker()
    marks.clear()
    send = stack.sender(task)
    for i in range(WARMUP):
        send(i)
    timer = time.thread_time  # CPU time of the thread: a blocking recv costs what it costs, not its wait
    producer = cProfile.Profile(timer)
    producer.enable()
    for i in range(n):
        send(i)
    producer.disable()

    profiles: list[cProfile.Profile] = []
    original = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def profiled(self):  # Dramatiq's worker and consumer threads override run(): wrap what calls it
        profile = cProfile.Profile(timer)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()
            # only threads that ended: a profile read from another thread mid-call times that call
            # with the reading thread's clock (the daemon listeners never end; they block, costing nothing)
            profiles.append(profile)

    threading.Thread._bootstrap_inner = profiled  # type: ignore[attr-defined]
    worker = dramatiq.Worker(broker, worker_threads=threads)
    cpu0 = time.process_time()
    worker.start()
    try:
        _wait_marks(n + WARMUP)
        time.sleep(SETTLE)
    finally:
        cpu = time.process_time() - cpu0
        worker.stop()
        threading.Thread._bootstrap_inner = original  # type: ignore[attr-defined]
    total = n + WARMUP
    print(
        f"# {case}: {n:,} sends, then {total:,} messages drained by an in-process worker ({threads} threads)"
    )
    print(f"# worker process CPU under cProfile: {cpu / total * 1e6:,.0f} us/msg (boot included)\n")
    _print_stats("producer, per delay()", pstats.Stats(producer), n, top)
    _print_stats("worker (every thread), per message", pstats.Stats(*profiles), total, top)


def _print_stats(title: str, stats: Any, n: int, top: int) -> None:
    rows = []
    for (path, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        where = func if path == "~" else f"{_short(path)}:{line}({func})"
        rows.append((ncalls / n, tottime / n * 1e6, cumtime / n * 1e6, where))
    for key, label in ((1, "own time"), (2, "cumulative time")):
        print(f"## {title}, by {label} (us per message; cProfile overhead included)")
        print(f"{'calls':>8} {'own us':>8} {'cum us':>8}  function")
        for calls, own, cum, where in sorted(rows, key=lambda row: -row[key])[:top]:
            print(f"{calls:8.2f} {own:8.2f} {cum:8.2f}  {where}")
        print()


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    here = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(here)


# -- instruction counts under callgrind -----------------------------------------------------------
def _callgrind_control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True, timeout=120)


def _callgrind_total(prefix: Path) -> int:
    """Instructions in the one dump ``callgrind_control -d`` wrote (``<prefix>.<pid>.1``)."""
    (dump,) = prefix.parent.glob(prefix.name + ".*.1")
    for line in dump.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {dump}")


def _valgrind(prefix: Path, *args: str) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={prefix}.%p",
        sys.executable,
        "-m",
        "bench.cpu_per_message",
        *args,
    ]


def cg_producer(case: str, n: int) -> None:
    """Under callgrind: warm up, zero the counters, send ``n``, dump (the parent reads the dump)."""
    from . import stacks

    name, task = case.split(":")
    send = stacks.load(name).sender(task)
    for i in range(WARMUP):
        send(i)
    _callgrind_control("-z", os.getpid())
    for i in range(n):
        send(i)
    _callgrind_control("-d", os.getpid())


def cg_worker(case: str, threads: int) -> None:
    """Under callgrind: an in-process Dramatiq worker for the stack's broker, until SIGTERM."""
    import signal

    import dramatiq

    from . import stacks

    stacks.load(case.split(":")[0])
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=threads)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    worker.start()
    while not stopping:
        time.sleep(0.05)
    worker.stop()
    os._exit(0)


def callgrind_case(
    case: str, n: int, threads: int, base_env: dict[str, str], run_dir: Path
) -> dict[str, float]:
    """Instructions per ``delay()`` (the producer, after warm-up) and per message drained (the worker,
    after ``WARMUP`` messages, up to the last), each process under valgrind's callgrind."""
    label = case.replace(":", "-")
    directory = run_dir / "marks"  # this (parent) process imported bench.marks before BENCH_RUN_DIR was set
    marks.clear(directory)
    producer = run_dir / f"cg-producer-{label}"
    subprocess.run(
        _valgrind(producer, "--cg-producer", case, str(n)),
        env=base_env,
        stdin=subprocess.DEVNULL,
        check=True,
        capture_output=True,
    )
    worker_prefix = run_dir / f"cg-worker-{label}"
    with open(run_dir / f"cg-worker-{label}.log", "ab") as log:
        proc = subprocess.Popen(
            _valgrind(worker_prefix, "--cg-worker", case, str(threads)),
            env=base_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    env.register_pid(run_dir, proc.pid)
    try:
        _wait_marks(WARMUP, proc, directory=directory)
        _callgrind_control("-z", proc.pid)
        first = marks.read(directory)[0]
        _wait_marks(n + WARMUP, proc, directory=directory)
        time.sleep(SETTLE * 10)  # valgrind runs the last after-hooks and acks some 50x slower
        last = marks.read(directory)[0]
        _callgrind_control("-d", proc.pid)
    finally:
        env.kill_group(proc.pid, grace=60)
        env.forget_pid(run_dir, proc.pid)
    return {
        "producer_ir": _callgrind_total(producer) / n,
        "worker_ir": _callgrind_total(worker_prefix) / max(1, last - first),
    }


# -- the parent: Redis, repeats, table -------------------------------------------------------------
def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    fmt = (lambda v: f"{v:,.0f}") if med >= 100 else (lambda v: f"{v:.2f}" if med < 10 else f"{v:.1f}")
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}-{fmt(max(values))})"


def _top_commands(runs: list[dict[str, Any]], field: str, k: int = 6) -> str:
    merged: dict[str, list[float]] = {}
    for run in runs:
        for cmd, per in run[field].items():
            merged.setdefault(cmd, []).append(per)
    medians = {cmd: statistics.median(v + [0.0] * (len(runs) - len(v))) for cmd, v in merged.items()}
    top = sorted(medians.items(), key=lambda kv: -kv[1])[:k]
    return " ".join(f"{cmd} {per:.2f}" for cmd, per in top if per >= 0.005)


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    headers = [
        "case",
        "worker CPU us/msg",
        "producer CPU us/delay()",
        "Redis CPU us/msg (drain)",
        "cmds/msg enqueue",
        "cmds/msg drain",
    ]
    rows = []
    for case, runs in results.items():
        stack, task = case.split(":")
        rows.append(
            [
                f"{stack}, {LABELS.get(task, task)}",
                _cell([r["worker_cpu_us"] for r in runs]),
                _cell([r["producer_cpu_us"] for r in runs]),
                _cell([r["redis_cpu_us"] for r in runs]),
                _cell([r["enqueue_cmds"] for r in runs]),
                _cell([r["drain_cmds"] for r in runs]),
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines += ["", "Commands per message (medians):"]
    for case, runs in results.items():
        lines.append(f"  {case:<18} enqueue: {_top_commands(runs, 'enqueue_by_cmd')}")
        lines.append(f"  {'':<18} drain:   {_top_commands(runs, 'drain_by_cmd')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        case, n, out = args.child
        run_case(case, int(n), Path(out))
        return 0
    if args.cg_producer:
        cg_producer(args.cg_producer[0], int(args.cg_producer[1]))
        return 0
    if args.cg_worker:
        cg_worker(args.cg_worker[0], int(args.cg_worker[1]))
        return 0
    run_dir = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    server = env.RedisServer(run_dir)
    server.start()
    try:
        base_env = dict(os.environ, BENCH_REDIS_URL=server.url, BENCH_RUN_DIR=str(run_dir))
        if args.profile:
            child_env = dict(base_env, BENCH_PREFIX="benchprof")
            code = [
                sys.executable,
                "-c",
                "import sys; from bench.cpu_per_message import profile_case as p; "
                f"p({args.profile!r}, {args.messages}, {args.threads}, {args.top})",
            ]
            return subprocess.call(code, env=child_env, stdin=subprocess.DEVNULL)
        cases = [c for c in args.cases.split(",") if c]
        client = redis.Redis.from_url(server.url)
        if args.callgrind:
            print(
                f"# instructions (callgrind Ir) per message, {args.messages:,} messages per case, "
                f"in-process worker with {args.threads} threads\n"
            )
            print(f"| {'case':<26} | {'worker Ir/msg':>14} | {'producer Ir/delay()':>19} |")
            print(f"|{'-' * 28}|{'-' * 16}|{'-' * 21}|")
            for case in cases:
                client.flushall()  # our own private server (started above)
                sys.stderr.write(f"[cpu] callgrind {case}\n")
                figures = callgrind_case(
                    case, args.messages, args.threads, dict(base_env, BENCH_PREFIX="benchcg"), run_dir
                )
                stack, task = case.split(":")
                print(
                    f"| {stack + ', ' + LABELS.get(task, task):<26} | {figures['worker_ir']:>14,.0f} "
                    f"| {figures['producer_ir']:>19,.0f} |",
                    flush=True,
                )
            return 0
        results: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
        started = time.monotonic()
        load = os.getloadavg()[0]
        for repeat in range(args.repeats):
            order = cases[repeat % len(cases) :] + cases[: repeat % len(cases)]
            for case in order:
                client.flushall()  # our own private server (started above)
                out = run_dir / f"{case.replace(':', '-')}-{repeat}.json"
                prefix = f"benchcpu{repeat}"
                sys.stderr.write(f"[cpu] repeat {repeat + 1}/{args.repeats} {case}\n")
                code = subprocess.call(
                    [
                        sys.executable,
                        "-m",
                        "bench.cpu_per_message",
                        "--child",
                        case,
                        str(args.messages),
                        str(out),
                    ],
                    env=dict(base_env, BENCH_PREFIX=prefix),
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                if code != 0:
                    raise RuntimeError(f"{case} failed with exit code {code}; worker logs in {run_dir}")
                results[case].append(json.loads(out.read_text()))
        print(
            f"# CPU per message: {args.repeats} repeat(s) x {args.messages:,} messages, "
            f"{time.monotonic() - started:.0f}s; load avg at start {load:.2f}, now {os.getloadavg()[0]:.2f}"
        )
        print("# medians (min-max over repeats)\n")
        print(table(results))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return 0
    finally:
        server.stop()
        env.reap_leftovers(run_dir)


if __name__ == "__main__":
    sys.exit(main())

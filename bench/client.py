"""One stack, one repeat: ``python -m bench.client <stack> <out.json>`` (started by ``python -m bench``).

Reads ``BENCH_REDIS_URL``, ``BENCH_BROKER_URL`` (a RabbitMQ vhost, or unset: the Redis is the broker),
``BENCH_PREFIX``, ``BENCH_RUN_DIR`` and ``BENCH_QUICK`` from the environment,
runs every workload against that stack's workers, and writes the figures as JSON. The workers it starts
are stopped on the way out, also on Ctrl-C or an error.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import redis

from . import counters, env, public, rabbitmq, stacks, workloads

#: every workload, in order: the per-message Redis readings first (the public method's stored results
#: would count in its bytes-per-queued-message scan), then the public method, then the rest
PHASES = [workloads.PHASES[0], public.public, public.public_results, *workloads.PHASES[1:]]


def progress_printer(label: str):
    """One overwritten status line on a terminal; elsewhere one line per phase."""
    tty = sys.stderr.isatty()
    last = [""]

    def progress(text: str) -> None:
        if tty:
            sys.stderr.write(f"\r\033[K[bench] {label}: {text}")
        else:
            phase = text.rstrip("0123456789/ ")
            if phase == last[0]:
                return
            last[0] = phase
            sys.stderr.write(f"[bench] {label}: {text}\n")
        sys.stderr.flush()

    return progress


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    name, out_path = argv[0], Path(argv[1])
    label = os.environ.get("BENCH_LABEL", name)
    run_dir = Path(os.environ["BENCH_RUN_DIR"])
    sizes = workloads.Sizes.quick() if os.environ.get("BENCH_QUICK") else workloads.Sizes()
    signal.signal(signal.SIGTERM, _interrupt)
    stack = stacks.load(name)
    worker_env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = run_dir / f"workers-{name}.log"
    workers = env.WorkerGroup(stack.worker_commands(), worker_env, run_dir, log, grace=stack.stop_grace)
    ctx = workloads.Ctx(
        stack=stack,
        r=redis.Redis.from_url(counters.URL),
        workers=workers,
        sizes=sizes,
        prefix=counters.PREFIX,
        progress=progress_printer(label),
    )
    errors = {}
    try:
        only = {p for p in os.environ.get("BENCH_PHASES", "").split(",") if p}
        for phase in PHASES:
            if phase.__name__ in stack.skips or (only and phase.__name__ not in only):
                continue
            started = time.monotonic()
            try:
                phase(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one failed workload must not hide the others
                errors[phase.__name__] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
                workers.stop(grace=5)
            ctx.out[f"_seconds_{phase.__name__}"] = time.monotonic() - started
    finally:
        workers.stop()
    if counters.ON_RABBITMQ:  # readings of the broker's Redis: here they would read the result store
        for key in rabbitmq.REDIS_READINGS:
            ctx.out.pop(key, None)
    ctx.out["_broker"] = stack.broker_kind
    ctx.out["_errors"] = errors
    out_path.write_text(json.dumps(ctx.out))
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except KeyboardInterrupt:  # the workers were stopped on the way out
        code = 130
    sys.stderr.flush()
    os._exit(code)  # skip Celery's result finalizers, which reconnect to Redis at interpreter exit

"""``python -m bench``: every workload on compat and its peers (stock Dramatiq, Dramatiq + Results, Huey,
taskiq, Celery), on one private Redis; ``--broker rabbitmq``: compat, stock Dramatiq and Celery on RabbitMQ.

Each (repeat, stack) pair runs in its own client process (``bench.client``) against freshly started
workers and an emptied Redis; the stack order rotates between repeats so drift in the machine's load
does not always favour the same stack. Ratios are computed within each repeat, then summarized.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from . import env, rabbitmq, report, stacks
from .client import PHASES

#: the Redis run's stacks (``dramatiq-confirms`` is the RabbitMQ run's only)
STACKS = [name for name in stacks.STACKS if name != "dramatiq-confirms"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat and small counts (smoke test)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="measured repeats (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--broker",
        choices=("redis", "rabbitmq"),
        default="redis",
        help="the broker the stacks send through (rabbitmq: a vhost per client on BENCH_RABBITMQ_URL, "
        "default amqp://guest:guest@127.0.0.1:5672; results stay on the bench Redis)",
    )
    parser.add_argument(
        "--stacks",
        default="",
        help=f"comma-separated subset of {','.join(STACKS)} (with --broker rabbitmq: of "
        f"{','.join(rabbitmq.STACKS)})",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="also write machine-readable results to FILE (or stdout with no FILE)",
    )
    parser.add_argument(
        "--phases",
        default="",
        help="comma-separated workloads to run (default all): " + ", ".join(p.__name__ for p in PHASES)
        + f" (with --broker rabbitmq: of {', '.join(rabbitmq.PHASES)})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory (worker logs)")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("dramatiq", "celery", "kombu", "redis", "huey", "taskiq", "taskiq-redis"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
        **versions,
    }


class Run:
    """One bench run: the Redis it uses, the client processes, and their cleanup."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_dir = Path(tempfile.mkdtemp(prefix="bench-"))
        self.redis: env.RedisServer | None = None
        self.url = os.environ.get("BENCH_REDIS_URL")
        self.server_pid: int | None = None
        self.client: subprocess.Popen | None = None

    def start_redis(self) -> None:
        if self.url:
            return
        self.redis = env.RedisServer(self.run_dir)
        self.redis.start()
        self.url = self.redis.url
        self.server_pid = self.redis.pid

    def run_stack(self, stack: str, repeat: int, repeats: int) -> dict[str, Any]:
        prefix = f"bench{os.getpid()}r{repeat}"
        # Huey names its keys huey.<kind>.<name>: its name starts with the prefix, its keys do not
        keys = [prefix, f"huey.*.{prefix}"]
        r = redis.Redis.from_url(self.url)
        env.clear(r, keys, self.server_pid)
        out = self.run_dir / f"{stack}-{repeat}.json"
        child_env = dict(
            os.environ,
            BENCH_REDIS_URL=self.url,
            BENCH_PREFIX=prefix,
            BENCH_RUN_DIR=str(self.run_dir),
            BENCH_LABEL=f"repeat {repeat + 1}/{repeats} {stack}",
        )
        if self.args.quick:
            child_env["BENCH_QUICK"] = "1"
        else:
            child_env.pop("BENCH_QUICK", None)
        child_env["BENCH_PHASES"] = self.args.phases
        # compat and Celery let these override an app's own URLs: the stacks must use the bench's
        for name in ("BENCH_BROKER_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            child_env.pop(name, None)
        if self.args.broker == "rabbitmq":
            with rabbitmq.Vhost(f"{stack}-{repeat}") as vhost:
                child_env["BENCH_BROKER_URL"] = vhost.url
                try:
                    code = self._client(stack, out, child_env)
                except KeyboardInterrupt:
                    self.interrupt()  # the client and its workers go before their vhost does
                    raise
        else:
            code = self._client(stack, out, child_env)
        env.clear(r, keys, self.server_pid)
        r.close()
        if code != 0 or not out.exists():
            raise RuntimeError(f"{stack} client failed with exit code {code}; logs in {self.run_dir}")
        return json.loads(out.read_text())

    def _client(self, stack: str, out: Path, child_env: dict[str, str]) -> int:
        """Run one client process to its end; its exit code."""
        self.client = subprocess.Popen(
            [sys.executable, "-m", "bench.client", stack, str(out)],
            env=child_env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        env.register_pid(self.run_dir, self.client.pid)
        code = self.client.wait()  # Ctrl-C leaves self.client set, for interrupt()
        env.forget_pid(self.run_dir, self.client.pid)
        self.client = None
        return code

    def interrupt(self) -> None:
        """Ctrl-C: let the client stop its workers, then stop whatever is left, by recorded pid."""
        if self.client is not None and self.client.poll() is None:
            try:
                os.kill(self.client.pid, signal.SIGTERM)
                self.client.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def cleanup(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        env.reap_leftovers(self.run_dir)
        if not self.args.keep:
            for path in sorted(self.run_dir.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            self.run_dir.rmdir()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def choose(args: argparse.Namespace) -> tuple[list[str], str]:
    """The stacks and the phases (comma-separated) this run uses; exits on an unknown name."""
    on_rabbitmq = args.broker == "rabbitmq"
    allowed = rabbitmq.STACKS if on_rabbitmq else STACKS
    chosen = [s for s in args.stacks.split(",") if s] or list(allowed)
    unknown = set(chosen) - set(allowed)
    if unknown:
        sys.exit(f"unknown stack(s) for --broker {args.broker}: {', '.join(sorted(unknown))}")
    phases = [p for p in args.phases.split(",") if p]
    allowed_phases = rabbitmq.PHASES if on_rabbitmq else [p.__name__ for p in PHASES]
    unknown = set(phases) - set(allowed_phases)
    if unknown:
        sys.exit(f"unknown phase(s) for --broker {args.broker}: {', '.join(sorted(unknown))}")
    if on_rabbitmq and not phases:
        phases = rabbitmq.PHASES
    return chosen, ",".join(phases)


def render(
    args: argparse.Namespace,
    info: dict[str, Any],
    summary: dict[str, Any],
    checks: list[dict[str, Any]],
    limits: list[dict[str, Any]],
    errors: dict[str, Any],
    repeats: int,
    elapsed: float,
) -> list[str]:
    """The printed report: a heading, the figures, the ratios, the targets (and the limits on Redis)."""
    on_rabbitmq = args.broker == "rabbitmq"
    mode = "quick" if args.quick else "full"
    metrics = rabbitmq.METRICS if on_rabbitmq else report.METRICS
    cores = info["cores"] or 1
    if on_rabbitmq:
        broker = f"RabbitMQ {info['rabbitmq']} (a vhost per client; results on a private Redis)"
        peers = f"dramatiq {info['dramatiq']}, celery {info['celery']} / kombu {info['kombu']}"
    else:
        broker = "one private Redis"
        peers = (
            f"dramatiq {info['dramatiq']}, celery {info['celery']}, huey {info['huey']}, "
            f"taskiq {info['taskiq']} / taskiq-redis {info['taskiq-redis']}"
        )
    text = [
        f"# bench ({mode}, {repeats} repeat(s), {elapsed:.0f}s) on {info['cpu']} x{info['cores']}, "
        f"broker: {broker}; Python {info['python']}, {peers}, redis-py {info['redis']}; "
        f"load avg at start {info['load_avg'][0]:.2f}; the project's bytecode compiled before the run",
        "# medians (min-max over repeats); '-' = the stack cannot run that workload as configured",
        "",
        report.table(summary, metrics),
        "",
        "Ratios compat/other, taken within each repeat, then their median (min-max):",
        "",
        report.ratio_table(summary, metrics),
        "",
        "Targets (issue 19, RabbitMQ):" if on_rabbitmq else "Targets (issue 21 first):",
        report.targets_text(checks),
    ]
    if not on_rabbitmq:
        text += [
            "",
            "Limit (public drain, results ignored; first to last completion):",
            "",
            report.limits_text(limits, cores),
        ]
    if mode == "quick" or info["load_avg"][0] > 0.5 * cores:
        why = "a quick run" if mode == "quick" else "the machine was loaded"
        text.insert(1, f"# NOT FOR PUBLISHING: {why}")
    if errors:
        text += ["", "Errors:", *(f"  {key}: {value}" for key, value in errors.items())]
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # Ctrl-C, and SIGTERM from a supervisor, both end in the same cleanup (also when started in the
    # background by a shell that ignores SIGINT).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    repeats = args.repeats or (1 if args.quick else 3)
    chosen, args.phases = choose(args)
    run = Run(args)
    runs: list[dict[str, dict[str, Any]]] = []
    started = time.monotonic()
    info = machine()
    if args.broker == "rabbitmq":
        info["rabbitmq"] = rabbitmq.version()
    if not env.compile_bytecode():
        sys.stderr.write("[bench] warning: some project sources did not compile (see above)\n")
    try:
        run.start_redis()
        for repeat in range(repeats):
            order = chosen[repeat % len(chosen) :] + chosen[: repeat % len(chosen)]
            runs.append({})
            for stack in order:
                runs[-1][stack] = run.run_stack(stack, repeat, repeats)
    except KeyboardInterrupt:
        sys.stderr.write("\n[bench] interrupted; stopping workers and Redis\n")
        run.interrupt()
        return 130
    finally:
        run.cleanup()
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    on_rabbitmq = args.broker == "rabbitmq"
    metrics = rabbitmq.METRICS if on_rabbitmq else report.METRICS
    summary = report.summarize(runs, metrics)
    checks = report.targets(runs, summary, rabbitmq.checks if on_rabbitmq else None)
    limits = [] if on_rabbitmq else report.limits(summary, info["cores"] or 1)
    elapsed = time.monotonic() - started
    mode = "quick" if args.quick else "full"
    errors = {
        f"{i}/{s}": run_[s]["_errors"] for i, run_ in enumerate(runs) for s in run_ if run_[s].get("_errors")
    }
    text = render(args, info, summary, checks, limits, errors, repeats, elapsed)
    if args.json != "-":
        print("\n".join(text))
    if args.json:
        document = {
            "generated": datetime.now(UTC).isoformat(),
            "mode": mode,
            "repeats": repeats,
            "broker": args.broker,
            "machine": info,
            "runs": runs,
            "summary": summary,
            "targets": checks,
            "limits": limits,
        }
        if args.json == "-":
            print(json.dumps(document, indent=2))
        else:
            Path(args.json).write_text(json.dumps(document, indent=2))
    return 1 if errors else 0

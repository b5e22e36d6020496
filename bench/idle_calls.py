"""Redis calls per second of an idle worker group: stock Dramatiq against compat.

``python -m bench.idle_calls [--seconds 30] [--processes 2] [--threads 8]``

Crash recovery within seconds must not be paid for with a busier Redis (issue 14): this starts each
stack's worker group on a private Redis with nothing to do, resets Redis's command statistics after a
warm-up, waits, and prints the calls per second each group made, by command. Stock Dramatiq polls each
queue with a back-off of up to a second; compat's consumers block on a wake list and its maintenance
makes one call per pass.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from threads.redis_server import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
STACKS = {
    "dramatiq": ("bench.stack_dramatiq", {}),
    "compat": ("bench.stack_compat", {}),
    "compat, no dashboard recorder": ("bench.stack_compat", {"BENCH_COMPAT_METRICS": "0"}),
}


def idle_calls(url: str, module: str, extra_env: dict, seconds: float, processes: int, threads: int):
    """Calls per second, in all and by command, of one idle worker group of ``module``."""
    env = {**os.environ, **extra_env, "BENCH_REDIS_URL": url, "BENCH_PREFIX": f"idle{time.time_ns()}"}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "dramatiq", module, "-p", str(processes), "-t", str(threads)]
    worker = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    client = redis.Redis.from_url(url)
    try:
        time.sleep(8)  # boot and settle
        client.config_resetstat()
        time.sleep(seconds)
        stats = client.info("commandstats")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    by_command = {
        name.removeprefix("cmdstat_"): value["calls"] / seconds
        for name, value in stats.items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))
    }
    return sum(by_command.values()), by_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_calls", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        server = PrivateRedis(Path(directory)).start()
        try:
            shape = (options.seconds, options.processes, options.threads)
            rows = [
                (name, *idle_calls(server.url, module, env, *shape)) for name, (module, env) in STACKS.items()
            ]
        finally:
            server.stop()
    print(f"Idle worker group, {options.processes} processes x {options.threads} threads, "
          f"{options.seconds:.0f} s, one queue:\n")
    print("Commands run inside Lua scripts count one each, as Redis's INFO commandstats counts them.\n")
    print("| stack | Redis commands/s | per process | by command |")
    print("|---|---|---|---|")
    for name, total, by_command in rows:
        ranked = sorted(by_command.items(), key=lambda item: -item[1])
        top = ", ".join(f"{command} {rate:.1f}" for command, rate in ranked)
        print(f"| {name} | {total:.1f} | {total / options.processes:.1f} | {top} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

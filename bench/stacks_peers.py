"""Adapters for the peers that are neither Dramatiq nor Celery: Huey and taskiq (see ``bench.stacks``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .stacks import PROCESSES, PY, THREADS, Stack


class HueyStack(Stack):
    """Huey 3 with ``RedisHuey``'s defaults: 2 ``huey_consumer`` processes, ``-k thread -w 8`` each.

    ``-d 0.001 -C`` as in the public benchmark (1 ms first poll delay when a fetch finds nothing, no
    worker health check). Huey has no group or chord like the others', so the canvas rows show "-".
    """

    name = "huey"
    module = "bench.stack_huey"
    skips = frozenset({"canvas"})

    def __init__(self) -> None:
        from . import stack_huey as tasks

        self.tasks = tasks
        tasks.huey.storage.conn.ping()

    def prefixes(self, prefix: str) -> list[str]:
        # huey.<kind>.<name>, with anything but [A-Za-z0-9_] taken out of the name (bench1r0huey)
        return [f"huey.redis.{prefix}", f"huey.schedule.{prefix}", f"huey.results.{prefix}"]

    def worker_commands(self) -> list[list[str]]:
        consumer = [PY, "-m", "huey.bin.huey_consumer", f"{self.module}.huey"]
        options = ["-k", "thread", "-w", str(THREADS), "-d", "0.001", "-C", "-q"]
        return [consumer + options for _ in range(PROCESSES)]

    def sender(self, task: str):
        return getattr(self.tasks, task)

    def send(self, task: str, *args: Any) -> Any:
        return getattr(self.tasks, task)(*args)

    def timed(self, sent_at: float) -> list[float]:
        # Huey's default get(): polls its result hash, 50 ms first, x1.15 each time (notify_result=False)
        return self.tasks.timed(sent_at).get(blocking=True, timeout=30)


class TaskiqStack(Stack):
    """taskiq 0.13 + taskiq-redis ``RedisStreamBroker``: ``taskiq worker --workers 2 --max-async-tasks 8``.

    The client sends from one event loop, ``await task.kiq(...)`` in a loop as the public benchmark does
    (not one ``run_until_complete`` per call, which would charge taskiq for the bench's sync harness).
    """

    name = "taskiq"
    module = "bench.stack_taskiq"
    skips = frozenset({"idle_latency", "canvas", "results_drain", "retries", "public_results"})
    stop_grace = 3.0  # its workers did not exit within 15 s of SIGTERM here, on every stop

    def __init__(self) -> None:
        from . import stack_taskiq as tasks

        self.tasks = tasks
        self.loop = asyncio.new_event_loop()
        # creates the stream's consumer group before anything is sent (its id "$" skips older messages)
        self.loop.run_until_complete(tasks.broker.startup())

    def worker_commands(self) -> list[list[str]]:
        return [
            [
                PY,
                "-m",
                "taskiq",
                "worker",
                f"{self.module}:broker",
                "--workers",
                str(PROCESSES),
                "--max-async-tasks",
                str(THREADS),
                "--max-threadpool-threads",
                str(THREADS),
                "--log-level",
                "WARNING",
            ]
        ]

    def sender(self, task: str):
        kiq, run = getattr(self.tasks, task).kiq, self.loop.run_until_complete
        return lambda *args: run(kiq(*args))

    def send(self, task: str, *args: Any) -> Any:
        return self.sender(task)(*args)

    def timed_loop(self, task: str, n: int, args=None) -> tuple[float, float, list[float]]:
        kiq = getattr(self.tasks, task).kiq

        async def loop() -> tuple[float, float, list[float]]:
            per_call = []
            perf = time.perf_counter
            cpu0, wall0 = time.process_time(), perf()
            for i in range(n):
                t0 = perf()
                await (kiq(*args(i)) if args else kiq())
                per_call.append(perf() - t0)
            return perf() - wall0, time.process_time() - cpu0, per_call

        return self.loop.run_until_complete(loop())

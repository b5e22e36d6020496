"""One adapter per stack: how the bench sends each workload's messages and waits for its results.

Only one stack is imported per client process (``bench.client``), so that compat's global JSON encoder
and Celery's imports cannot change what the other stacks measure.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from . import counters

PY = sys.executable
THREADS = 8
PROCESSES = 2


class Stack:
    name = ""
    module = ""
    #: phases (``bench.client.PHASES`` names) this stack cannot run as configured: their rows show "-"
    skips: frozenset[str] = frozenset()
    #: seconds a stopped worker group gets to exit on SIGTERM before SIGKILL (phases stop their workers
    #: only once the queue is drained, so a kill loses nothing; the grace is only politeness)
    stop_grace = 15.0

    def sender(self, task: str):
        raise NotImplementedError

    def timed_loop(self, task: str, n: int, args=None) -> tuple[float, float, list[float]]:
        """Send ``task`` n times from this thread (``args(i)`` its arguments); returns (wall seconds,
        client CPU seconds, per-call seconds)."""
        send = self.sender(task)
        per_call = []
        perf = time.perf_counter
        cpu0, wall0 = time.process_time(), perf()
        if args is None:
            for _ in range(n):
                t0 = perf()
                send()
                per_call.append(perf() - t0)
        else:
            for i in range(n):
                t0 = perf()
                send(*args(i))
                per_call.append(perf() - t0)
        return perf() - wall0, time.process_time() - cpu0, per_call

    def worker_commands(self) -> list[list[str]]:
        """Dramatiq CLI: 2 processes x 8 threads, prefetch 2 x threads (Dramatiq's default)."""
        return [
            [PY, "-m", "dramatiq", self.module, "-p", str(PROCESSES), "-t", str(THREADS), "--skip-logging"]
        ]

    def prefixes(self, prefix: str) -> list[str]:
        """Where this stack's keys start (its stored-bytes reading scans them)."""
        return [f"{prefix}-"]

    #: the broker this stack's client sends through, as built (``rabbitmq`` or ``redis``), for the record
    broker_kind = "redis"


class CompatStack(Stack):
    name = "compat"
    module = "bench.stack_compat"

    def __init__(self) -> None:
        from . import stack_compat as tasks

        self.tasks = tasks
        broker = tasks.app.broker  # connect and register, outside the timed loops
        self.broker_kind = "rabbitmq" if "Rabbitmq" in type(broker).__name__ else "redis"
        if counters.ON_RABBITMQ:
            _ = broker.channel

    def send(self, task: str, *args: Any) -> Any:
        return getattr(self.tasks, task).delay(*args)

    def sender(self, task: str):
        return getattr(self.tasks, task).delay

    def timed(self, sent_at: float) -> list[float]:
        return self.tasks.timed.delay(sent_at).get(timeout=30)

    def chain5(self) -> None:
        from compat import chain

        step = self.tasks.step
        chain(*(step.s() for _ in range(5))).apply_async().get(timeout=30)

    def group_enqueue(self, n: int) -> Any:
        from compat import group

        return group(self.tasks.step.s() for _ in range(n)).apply_async()

    def group_wait(self, handle: Any) -> None:
        handle.get(timeout=120)

    def chord_run(self, n: int) -> None:
        from compat import chord

        step = self.tasks.step
        assert chord([step.s() for _ in range(n)])(self.tasks.collect.s()).get(timeout=120) == n

    def wait_all(self, handles: list) -> None:
        for handle in handles:
            handle.get(timeout=120)


class DramatiqStack(Stack):
    """Stock Dramatiq: default middleware, no result backend (so nothing that reads a result back)."""

    name = "dramatiq"
    module = "bench.stack_dramatiq"
    skips = frozenset({"idle_latency", "canvas", "results_drain", "retries", "public_results"})

    def __init__(self) -> None:
        import importlib

        tasks = importlib.import_module(self.module)
        self.tasks = tasks
        self.broker_kind = "rabbitmq" if "Rabbitmq" in type(tasks.broker).__name__ else "redis"
        if counters.ON_RABBITMQ:
            _ = tasks.broker.channel  # connect, outside the timed loops
        else:
            tasks.broker.client.ping()

    def send(self, task: str, *args: Any) -> Any:
        return getattr(self.tasks, task).send(*args)

    def sender(self, task: str):
        return getattr(self.tasks, task).send

    def timed(self, sent_at: float) -> list[float]:
        message = self.tasks.timed.send(sent_at)
        return message.get_result(backend=self.tasks.results, block=True, timeout=30_000)

    def chain5(self) -> None:
        import dramatiq

        pipe = dramatiq.pipeline((self.tasks.step.message() for _ in range(5)), broker=self.tasks.broker)
        pipe.run().get_result(block=True, timeout=30_000)

    def group_enqueue(self, n: int) -> Any:
        import dramatiq

        return dramatiq.group((self.tasks.step.message() for _ in range(n)), broker=self.tasks.broker).run()

    def group_wait(self, handle: Any) -> None:
        handle.wait(timeout=120_000)

    def chord_run(self, n: int) -> None:
        import dramatiq

        header = dramatiq.group((self.tasks.step.message() for _ in range(n)), broker=self.tasks.broker)
        body = self.tasks.collect.message()
        header.add_completion_callback(body)
        header.run()
        body.get_result(backend=self.tasks.results, block=True, timeout=120_000)

    def wait_all(self, handles: list) -> None:
        for message in handles:
            message.get_result(backend=self.tasks.results, block=True, timeout=120_000)


class ConfirmedDramatiqStack(DramatiqStack):
    """Stock Dramatiq's RabbitmqBroker with what compat's adds at the broker: a confirm for every publish
    and ``x-max-priority`` queues (``--broker rabbitmq`` only; its workers inherit the setting)."""

    name = "dramatiq-confirms"

    def __init__(self) -> None:
        import os

        os.environ["BENCH_DRAMATIQ_CONFIRMS"] = "1"
        super().__init__()


class ResultsDramatiqStack(DramatiqStack):
    """Dramatiq + Results, CurrentMessage and GroupCallbacks: what the facade's features need."""

    name = "dramatiq-results"
    module = "bench.stack_dramatiq_results"
    skips = frozenset()


class CeleryStack(Stack):
    """Celery 5.7, thread pool: ``-P threads -c 8`` in each of 2 worker processes.

    The thread pool is Celery's equivalent of Dramatiq's model (N processes x M threads); prefork ``-c 8``
    would run 16 processes on 2 cores, a different trade-off from what the other stacks run.
    """

    name = "celery"
    module = "bench.stack_celery"

    def __init__(self) -> None:
        from . import stack_celery as tasks

        self.tasks = tasks
        with tasks.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=3)
            self.broker_kind = "rabbitmq" if conn.transport.driver_type == "amqp" else "redis"

    def worker_commands(self) -> list[list[str]]:
        return [
            [
                PY,
                "-m",
                "celery",
                "-A",
                self.module,
                "worker",
                "-P",
                "threads",
                "-c",
                str(THREADS),
                "-n",
                f"w{i}@bench",
                "-Q",
                "bench",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
            for i in range(PROCESSES)
        ]

    def send(self, task: str, *args: Any) -> Any:
        return getattr(self.tasks, task).delay(*args)

    def sender(self, task: str):
        return getattr(self.tasks, task).delay

    def timed(self, sent_at: float) -> list[float]:
        return self.tasks.timed.delay(sent_at).get(timeout=30)

    def chain5(self) -> None:
        from celery import chain

        step = self.tasks.step
        chain(*(step.s() for _ in range(5))).apply_async().get(timeout=30)

    def group_enqueue(self, n: int) -> Any:
        from celery import group

        return group(self.tasks.step.s() for _ in range(n)).apply_async()

    def group_wait(self, handle: Any) -> None:
        handle.get(timeout=120)

    def chord_run(self, n: int) -> None:
        from celery import chord

        step = self.tasks.step
        assert chord([step.s() for _ in range(n)])(self.tasks.collect.s()).get(timeout=120) == n

    def wait_all(self, handles: list) -> None:
        for handle in handles:
            handle.get(timeout=120)


def _peer(name: str):
    from . import stacks_peers

    return getattr(stacks_peers, name)


#: in table order
STACKS = {
    "compat": lambda: CompatStack(),
    "dramatiq": lambda: DramatiqStack(),
    "dramatiq-confirms": lambda: ConfirmedDramatiqStack(),
    "dramatiq-results": lambda: ResultsDramatiqStack(),
    "huey": lambda: _peer("HueyStack")(),
    "taskiq": lambda: _peer("TaskiqStack")(),
    "celery": lambda: CeleryStack(),
}


def load(name: str) -> Stack:
    return STACKS[name]()


def now() -> float:
    return time.time()

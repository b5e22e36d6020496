"""The control commands a worker process answers, with Celery's names, arguments and replies.

Each command takes the process's ``WorkerControl`` and the request's arguments and returns the reply
(``{'ok': ...}``, ``{'error': ...}`` or the data Celery's command returns); a command that raises replies
``{'error': repr(exc)}``, as Celery's mailbox does. The inspect commands are in ``inspection.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from dramatiq.common import dq_name

from .. import supervisor
from ..middleware.rate_limit import RateLimit, parse_rate
from ..middleware.revocation import Revocation

logger = logging.getLogger("compat.control")

COMMANDS: dict[str, Callable[..., Any]] = {}

#: The most threads ``pool_grow`` lets a process run (a request cannot exhaust the host).
MAX_THREADS = 256


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    COMMANDS[fn.__name__] = fn
    return fn


def ok(value: Any) -> dict[str, Any]:
    return {"ok": value}


def nok(value: Any) -> dict[str, Any]:
    return {"error": value}


def run_command(control: Any, name: str, arguments: dict[str, Any]) -> Any:
    """The reply of command ``name``; an unknown command or a failing one replies ``{'error': ...}``."""
    try:
        return COMMANDS[name](control, **arguments)
    except Exception as exc:
        logger.warning("control command %r failed: %r", name, exc)
        return nok(repr(exc))


# -- control -----------------------------------------------------------------------------------------
def revocation(control: Any) -> Revocation:
    for middleware in control.app.broker.middleware:
        if isinstance(middleware, Revocation):
            return middleware
    raise RuntimeError("the broker has no Revocation middleware")


@command
def revoke(
    control: Any, task_id: Any = (), terminate: bool = False, signal: Any = None, **kwargs: Any
) -> dict[str, Any]:
    ids = {task_id} if isinstance(task_id, str) else set(task_id or ())
    revocation(control).revoked.update(ids)
    if terminate:
        terminated = control.terminate(ids)
        for task_id in terminated:
            logger.info("Terminating %s (%s)", task_id, signal or "SIGTERM")
        if not terminated:
            return ok("terminate: tasks unknown")
        return ok("terminate: {}".format(", ".join(terminated)))
    logger.info("Tasks flagged as revoked: %s", ", ".join(sorted(ids)))
    return ok(f"tasks {ids} flagged as revoked")


@command
def terminate(control: Any, signal: Any = None, task_id: Any = (), **kwargs: Any) -> dict[str, Any]:
    return revoke(control, task_id, terminate=True, signal=signal)


@command
def rate_limit(control: Any, task_name: str, rate_limit: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        parse_rate(rate_limit)
    except ValueError as exc:
        return nok(f"Invalid rate limit string: {exc!r}")
    task = control.app.tasks.get(task_name)
    if task is None:
        return nok("unknown task")
    task.rate_limit = rate_limit
    for middleware in control.app.broker.middleware:
        if isinstance(middleware, RateLimit):
            with middleware.lock:
                middleware.buckets.pop(task_name, None)
    if not rate_limit:
        return ok("rate limit disabled successfully")
    return ok("new rate limit set successfully")


@command
def time_limit(
    control: Any,
    task_name: str | None = None,
    hard: float | None = None,
    soft: float | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    task = control.app.tasks.get(task_name)
    if task is None:
        return nok("unknown task")
    task.soft_time_limit = soft
    task.time_limit = hard
    task.options["time_limit"] = hard * 1000 if hard else float("inf")  # Dramatiq's TimeLimit reads it
    return ok("time limits set successfully")


@command
def pool_grow(control: Any, n: int = 1, **kwargs: Any) -> dict[str, Any]:
    worker = control.worker
    count = int(n)
    if count < 0 or worker.worker_threads + count > MAX_THREADS:
        return nok(f"pool_grow: a process runs at most {MAX_THREADS} threads")
    for _ in range(count):
        worker._add_worker()
    worker.worker_threads += count
    return ok("pool will grow")


@command
def pool_shrink(control: Any, n: int = 1, **kwargs: Any) -> dict[str, Any]:
    worker = control.worker
    count = min(int(n), len(worker.workers) - 1)  # one thread always stays
    for _ in range(count):
        thread = worker.workers.pop()
        thread.stop()  # it finishes the task it is running, then exits
    worker.worker_threads -= count
    return ok("pool will shrink")


@command
def add_consumer(control: Any, queue: str, **kwargs: Any) -> dict[str, Any]:
    worker, broker = control.worker, control.app.broker
    if worker.consumer_whitelist:
        worker.consumer_whitelist.add(queue)
    for name in (queue, dq_name(queue)):
        thread = worker.consumers.get(name)
        if thread is not None and not thread.is_alive():
            del worker.consumers[name]  # cancelled before: start it again
    broker.declare_queue(queue)  # new queue: the worker's own middleware starts its consumers
    for name, delay in ((queue, False), (dq_name(queue), True)):
        worker._add_consumer(name, delay=delay)
    return ok(f"add consumer {queue}")


@command
def cancel_consumer(control: Any, queue: str, **kwargs: Any) -> dict[str, Any]:
    worker = control.worker
    if worker.consumer_whitelist:
        worker.consumer_whitelist.discard(queue)
    threads = [worker.consumers[name] for name in (queue, dq_name(queue)) if name in worker.consumers]
    for thread in threads:
        thread.stop()

    def close() -> None:  # off the control thread: a consumer stops within its idle wait
        for thread in threads:
            thread.join()
            thread.close()

    threading.Thread(target=close, name=f"compat-cancel-{queue}", daemon=True).start()
    return ok(f"no longer consuming from {queue}")


@command
def shutdown(control: Any, msg: str = "Got shutdown from remote", **kwargs: Any) -> dict[str, Any]:
    """Stop the node's whole worker group for good (also under ``compat.supervisor``)."""
    logger.warning(msg)
    control.after_reply = supervisor.stop_group
    return ok("shutting down")


@command
def pool_restart(control: Any, modules: Any = None, reload: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Replace the worker group's processes with fresh ones (new code, same arguments).

    The group stops gracefully and ``compat.supervisor`` (which ``rundramatiq`` runs by default) starts it
    again. Dramatiq's own SIGHUP reload is not used: it re-executes ``python`` from ``PATH``, which is not
    the virtualenv's interpreter unless the virtualenv is activated.
    """
    if not control.app.conf.get("worker_pool_restarts"):
        raise ValueError("Pool restarts not enabled")
    if supervisor.group_master() is None or not supervisor.supervised():
        raise RuntimeError(
            "pool_restart needs the worker group to run under compat.supervisor "
            "(python -m compat.supervisor <dramatiq args>, or manage.py rundramatiq)"
        )
    control.after_reply = supervisor.restart_group
    return ok("reload started")

from . import inspection  # noqa: E402, F401 - registers the inspect commands

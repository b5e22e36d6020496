"""The inspect commands: what a worker process is running, holding and configured with.

Task descriptions have the shape of Celery's ``Request.info()``.
"""

from __future__ import annotations

import os
import re
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .. import config
from ..check import celery_names
from .commands import command, ok, revocation

#: Celery's ``registered`` shows these task attributes when they are set.
DEFAULT_TASK_INFO_ITEMS = ("exchange", "routing_key", "rate_limit")

#: Setting names whose values ``conf`` masks (Celery's list).
HIDDEN = re.compile("API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE|BEAT_DBURI", re.IGNORECASE)


# -- task descriptions -----------------------------------------------------------------------------
def info(control: Any, message: Any, started: float | None = None, safe: bool = False) -> dict[str, Any]:
    """A message as Celery's ``Request.info()`` describes a request."""
    args, kwargs = message.args, message.kwargs
    return {
        "id": message.message_id,
        "name": message.actor_name,
        "args": repr(args) if safe else list(args),
        "kwargs": repr(kwargs) if safe else dict(kwargs),
        "type": message.actor_name,
        "hostname": control.node,
        "time_start": started,
        "acknowledged": False,  # acknowledged after it ran, as with task_acks_late
        "delivery_info": {
            "exchange": "",
            "routing_key": message.queue_name,
            "priority": message.options.get("priority"),
            "redelivered": bool(message.options.get("redelivered")),
        },
        "worker_pid": os.getpid() if started is not None else None,
    }


def _reserved(control: Any) -> list[Any]:
    """Messages this process fetched and has not started (Dramatiq's work queue)."""
    worker = control.worker
    if worker is None:
        return []
    with worker.work_queue.mutex:
        items = list(worker.work_queue.queue)
    running = {entry.message.message_id for entry in control.snapshot()}
    return [item.message for item in items if item.message.message_id not in running]


def _scheduled(control: Any) -> list[Any]:
    """Countdown/ETA messages this process holds until they are due (its delay queues)."""
    worker = control.worker
    if worker is None:
        return []
    found = []
    for consumer in list(worker.consumers.values()):
        queue = consumer.delay_queue
        with queue.mutex:
            found.extend(item.message for item in queue.queue)
    return found


def _eta(message: Any) -> str | None:
    eta = message.options.get("eta")
    return datetime.fromtimestamp(eta / 1000, UTC).isoformat() if eta else None


# -- inspect -----------------------------------------------------------------------------------------
@command
def ping(control: Any, **kwargs: Any) -> dict[str, Any]:
    return ok("pong")


@command
def active(control: Any, safe: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
    return [info(control, entry.message, entry.started, bool(safe)) for entry in control.snapshot()]


@command
def reserved(control: Any, safe: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
    return [info(control, message, None, bool(safe)) for message in _reserved(control)]


@command
def scheduled(control: Any, safe: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
    return [
        {
            "eta": _eta(message),
            "priority": message.options.get("priority", 0),
            "request": info(control, message, None, bool(safe)),
        }
        for message in _scheduled(control)
    ]


@command
def revoked(control: Any, **kwargs: Any) -> list[str]:
    return sorted(revocation(control).revoked)


@command
def registered(control: Any, taskinfoitems: Any = None, builtins: bool = False, **kwargs: Any) -> list[str]:
    tasks = control.app.tasks
    items = [item for item in (taskinfoitems or DEFAULT_TASK_INFO_ITEMS) if isinstance(item, str)]
    items = [item for item in items if not item.startswith("_")]
    names = sorted(name for name in tasks if builtins or not name.startswith("celery."))

    def describe(name: str) -> str:
        task = tasks[name]
        fields = {item: getattr(task, item, None) for item in items}
        shown = " ".join(f"{item}={value}" for item, value in fields.items() if value is not None)
        return f"{name} [{shown}]" if shown else name

    return [describe(name) for name in names]


@command
def query_task(control: Any, ids: Any = (), **kwargs: Any) -> dict[str, Any]:
    wanted = {ids} if isinstance(ids, str) else set(ids or ())
    found: dict[str, Any] = {}
    for entry in control.snapshot():
        if entry.message.message_id in wanted:
            found[entry.message.message_id] = ["active", info(control, entry.message, entry.started)]
    for state, messages in (("reserved", _reserved(control)), ("scheduled", _scheduled(control))):
        for message in messages:
            if message.message_id in wanted and message.message_id not in found:
                found[message.message_id] = [state, info(control, message)]
    return found


@command
def stats(control: Any, **kwargs: Any) -> dict[str, Any]:
    worker, conf = control.worker, control.app.conf
    usage = resource.getrusage(resource.RUSAGE_SELF)
    threads = worker.worker_threads if worker is not None else 0
    with control.lock:
        totals = dict(control.totals)
    return {
        "total": totals,
        "pid": os.getpid(),
        "clock": "0",
        "uptime": int(time.time() - control.booted),
        "pool": {
            "implementation": "dramatiq:threads",
            "max-concurrency": threads,
            "processes": [os.getpid()],
            "max-tasks-per-child": conf.get("worker_max_tasks_per_child") or "N/A",
            "max-memory-per-child": conf.get("worker_max_memory_per_child") or "N/A",
        },
        "broker": _broker_info(conf.broker_url or config.DEFAULT_BROKER_URL),
        "prefetch_count": worker.queue_prefetch if worker is not None else 0,
        "rusage": {
            "utime": usage.ru_utime,
            "stime": usage.ru_stime,
            "maxrss": usage.ru_maxrss,
            "minflt": usage.ru_minflt,
            "majflt": usage.ru_majflt,
            "nvcsw": usage.ru_nvcsw,
            "nivcsw": usage.ru_nivcsw,
        },
    }


def _broker_info(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "hostname": parts.hostname,
        "port": parts.port,
        "transport": parts.scheme,
        "virtual_host": parts.path.lstrip("/") or None,
        "userid": parts.username,
    }


@command
def active_queues(control: Any, **kwargs: Any) -> list[dict[str, Any]]:
    worker = control.worker
    if worker is None:
        return []
    names = sorted(
        name for name, thread in worker.consumers.items() if not name.endswith(".DQ") and thread.is_alive()
    )
    return [
        {
            "name": name,
            "exchange": {"name": name, "type": "direct"},
            "routing_key": name,
            "durable": True,
            "exclusive": False,
            "auto_delete": False,
            "no_ack": False,
            "alias": None,
            "bindings": [],
            "max_priority": None,
        }
        for name in names
    ]


@command
def conf(control: Any, with_defaults: bool = False, **kwargs: Any) -> dict[str, Any]:
    settings = control.app.conf
    names = set(config.DEFAULTS) | set(celery_names.SETTINGS) | set(settings._changes)
    table = {}
    for name in sorted(names):
        value = settings.get(name)
        if not with_defaults and (value is None or value == config.DEFAULTS.get(name)):
            continue
        table[name] = _censor(name, value)
    return table


def _censor(name: str, value: Any, mask: str = "*" * 8) -> Any:
    if isinstance(value, dict):
        return {key: _censor(str(key), item) for key, item in value.items()}
    if HIDDEN.search(name):
        return mask
    if isinstance(value, str) and ("url" in name or "backend" in name) and "@" in value:
        scheme, _, rest = value.partition("://")
        user, _, host = rest.rpartition("@")
        return f"{scheme}://{user.split(':')[0]}:{mask}@{host}" if ":" in user else value
    return value


@command
def report(control: Any, **kwargs: Any) -> dict[str, Any]:
    import dramatiq

    return ok(f"software -> compat on dramatiq {dramatiq.__version__}; python {sys.version.split()[0]}")

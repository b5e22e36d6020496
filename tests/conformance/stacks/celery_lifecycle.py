"""Worker lifecycle and logging signals on one stack (``test_lifecycle.py``). celery_lifecycle.py and
compat_lifecycle.py are identical except for the import line marked below.

In a worker (``LIFECYCLE_OUT`` set) each receiver appends one JSON line to that file with what the
signal carried, reduced in the worker process itself to facts both stacks can be compared on (identity
of objects, names of keywords, types). ``LIFECYCLE_CUSTOM_LOGGING`` connects a ``setup_logging``
receiver. Broker and backend: ``LIFECYCLE_<STACK>_BROKER``.
"""

# ruff: noqa: I001  (the stack import stays on its own line, identical in both files)
from __future__ import annotations

import json
import logging
import os

from celery import Celery, signals  # STACK IMPORT: the only line that differs between the stacks
from celery.utils.log import get_task_logger  # STACK IMPORT

STACK = __name__.rsplit(".", 1)[-1].split("_")[0]
OUT = os.environ.get("LIFECYCLE_OUT")
LOG_FORMAT = "ROOT %(levelname)s %(name)s: %(message)s"
TASK_LOG_FORMAT = "TASK %(task_name)s[%(task_id)s] %(levelname)s: %(message)s"

app = Celery(
    "lifecycle",
    broker=os.environ.get(f"LIFECYCLE_{STACK.upper()}_BROKER", "memory://"),
    backend=os.environ.get(f"LIFECYCLE_{STACK.upper()}_BACKEND", "cache+memory://"),
    set_as_current=False,
)
app.conf.update(
    task_default_queue="lifecycle",
    worker_log_format=LOG_FORMAT,
    worker_task_log_format=TASK_LOG_FORMAT,
    worker_redirect_stdouts_level="ERROR",
    broker_namespace="lifecycle",  # compat-only settings (Celery keeps unknown keys and ignores them)
    result_namespace="lifecycle-res",
    worker_metrics_interval=0.2,
)

_seen: dict[str, object] = {}


def _write(row: dict) -> None:
    if OUT:
        with open(OUT, "a") as out:
            out.write(json.dumps(row) + "\n")


def _names(kwargs: dict) -> list[str]:
    return sorted(name for name in kwargs if name != "signal")


def _facts(name: str, sender, kwargs: dict) -> dict:
    """What is compared about each signal (identities are checked here, where the objects live)."""
    facts: dict = {"kwargs": _names(kwargs)}
    node = _seen.get("node")
    if name == "import_modules":
        facts["sender_is_app"] = sender is app
    elif name in ("celeryd_init", "celeryd_after_setup"):
        instance = kwargs["instance"]
        _seen["node"] = sender
        _seen.setdefault("instance", instance)
        facts.update(
            sender_is_hostname=isinstance(sender, str) and sender == instance.hostname,
            conf_is_app_conf=kwargs["conf"] is app.conf,
            instance_app_is_app=instance.app is app,
            same_instance=instance is _seen["instance"],
        )
        if name == "celeryd_init":
            options = kwargs["options"]
            facts["options"] = isinstance(options, dict) and isinstance(options.get("concurrency"), int)
    elif name in ("worker_init", "worker_shutdown"):
        _seen.setdefault("worker", sender)
        facts.update(
            sender_type=type(sender).__name__,
            sender_app_is_app=sender.app is app,
            hostname_is_node=sender.hostname == node,
            same_worker=sender is _seen["worker"],
        )
    elif name == "worker_process_init":
        facts["sender_is_node"] = sender == node
    elif name == "worker_ready":
        facts.update(
            sender_type=type(sender).__name__,
            sender_app_is_app=sender.app is app,
            hostname_is_node=sender.hostname == node,
            controller_type=type(sender.controller).__name__,
        )
    elif name == "worker_shutting_down":
        facts.update(sender_is_node=sender == node, sig=kwargs["sig"], how=kwargs["how"],
                     exitcode=kwargs["exitcode"])
    elif name == "worker_process_shutdown":
        facts.update(pid_is_own=kwargs["pid"] == os.getpid(), exitcode=kwargs["exitcode"],
                     sender_is_str=isinstance(sender, str))
    elif name in ("setup_logging", "after_setup_logger", "after_setup_task_logger"):
        facts.update(sender=sender, loglevel=kwargs["loglevel"], logfile=kwargs["logfile"],
                     format=kwargs["format"], colorize=kwargs["colorize"])
        if "logger" in kwargs:
            logger = kwargs["logger"]
            facts.update(logger=logger.name, propagate=bool(logger.propagate),
                         handlers=len([h for h in logger.handlers if not isinstance(h, logging.NullHandler)]))
    return facts


def _connect(name: str) -> None:
    def receiver(sender=None, **kwargs):
        _write({"signal": name, "process": os.getpid(), **_facts(name, sender, kwargs)})

    getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"lifecycle-{name}")


for _name in (
    "import_modules celeryd_init worker_init after_setup_logger after_setup_task_logger celeryd_after_setup "
    "worker_before_create_process worker_process_init worker_ready worker_shutting_down "
    "worker_process_shutdown worker_shutdown"
).split():
    _connect(_name)

if os.environ.get("LIFECYCLE_CUSTOM_LOGGING"):
    _connect("setup_logging")

task_log = get_task_logger(__name__)


@app.task(name="lifecycle.log_line")
def log_line(text):
    task_log.warning("task logger: %s", text)
    logging.getLogger("lifecycle.plain").warning("plain logger: %s", text)
    print(f"printed: {text}")
    return text

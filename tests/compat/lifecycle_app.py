"""A worker app that records Celery's worker lifecycle and logging signals (``test_worker_lifecycle``).

In a worker (``LIFECYCLE_OUT`` set), every receiver appends one JSON line to that file: the signal,
the process, the sender (a string as is, else its class name), the keyword names and the values a test
checks. ``LIFECYCLE_CONF`` (JSON) updates the app's settings; ``LIFECYCLE_CUSTOM_LOGGING`` connects a
``setup_logging`` receiver that configures logging itself; ``LIFECYCLE_PROJECT_LOG`` is a file handler
the project puts on the root logger at import (as Django's ``LOGGING`` would), for the hijack tests.
"""

from __future__ import annotations

import json
import logging
import os

from compat import Celery, signals
from compat.utils.log import get_task_logger

OUT = os.environ.get("LIFECYCLE_OUT")

app = Celery(
    "lifecycle",
    broker=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("COMPAT_TEST_BACKEND") or os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    set_as_current=False,
)
app.conf.update(
    broker_namespace=os.environ.get("COMPAT_TEST_NS", "compat-test") + ":lc",
    result_namespace=os.environ.get("COMPAT_TEST_NS", "compat-test") + ":lc-res",
    task_default_queue="lifecycle",
    worker_metrics_interval=0.2,
    **json.loads(os.environ.get("LIFECYCLE_CONF") or "{}"),
)

LIFECYCLE = (
    "import_modules celeryd_init worker_init setup_logging after_setup_logger after_setup_task_logger "
    "celeryd_after_setup worker_before_create_process worker_process_init worker_ready heartbeat_sent "
    "worker_shutting_down worker_process_shutdown worker_shutdown task_rejected task_unknown"
).split()
SHOWN = ("sig", "how", "exitcode", "pid", "loglevel", "logfile", "format", "colorize")


def record(signal_name: str, sender, **kwargs) -> None:
    if not OUT:
        return
    name = signal_name
    row = {
        "signal": name,
        "process": os.getpid(),
        "sender": sender if isinstance(sender, str) else type(sender).__name__,
        "kwargs": sorted(k for k in kwargs if k != "signal"),
        **{k: kwargs[k] for k in SHOWN if k in kwargs},
    }
    if name == "celeryd_init":
        row["options"] = kwargs["options"]
        row["instance_hostname"] = kwargs["instance"].hostname
        row["conf_is_app_conf"] = kwargs["conf"] is app.conf
    if name in ("worker_init", "worker_shutdown"):
        row["hostname"] = sender.hostname
    if name == "worker_ready":
        row["hostname"] = sender.hostname
        row["queues"] = sender.queues
    if name in ("after_setup_logger", "after_setup_task_logger"):
        row["logger"] = kwargs["logger"].name
    if name == "task_unknown":
        row.update(name=kwargs["name"], id=kwargs["id"], exc=repr(kwargs["exc"]))
    if name == "task_rejected":
        row["exc"] = repr(kwargs["exc"])
        row["queue"] = kwargs["message"].delivery_info["queue"]
    with open(OUT, "a") as out:
        out.write(json.dumps(row) + "\n")


def _connect(name: str) -> None:
    def receiver(sender=None, **kwargs):
        record(name, sender, **kwargs)

    getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"lifecycle-{name}")


for _name in LIFECYCLE:
    if _name != "setup_logging" or os.environ.get("LIFECYCLE_CUSTOM_LOGGING"):
        _connect(_name)

if os.environ.get("LIFECYCLE_CUSTOM_LOGGING"):

    @signals.setup_logging.connect
    def own_logging(**kwargs):
        """The project configures logging itself (paperless and others: ``dictConfig(LOGGING)``)."""
        handler = logging.FileHandler(os.environ["LIFECYCLE_CUSTOM_LOGGING"])
        handler.setFormatter(logging.Formatter("OWN %(levelname)s %(name)s %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)


if os.environ.get("LIFECYCLE_PROJECT_LOG") and OUT:
    _project = logging.FileHandler(os.environ["LIFECYCLE_PROJECT_LOG"])
    _project.setFormatter(logging.Formatter("PROJECT %(levelname)s %(message)s"))
    logging.getLogger().addHandler(_project)

task_log = get_task_logger(__name__)
plain_log = logging.getLogger("lifecycle.plain")


@app.task(name="lifecycle.say")
def say(text: str) -> str:
    """Logs through the task logger and a plain logger, and prints (``worker_redirect_stdouts``)."""
    task_log.warning("task says %s", text)
    plain_log.warning("plain says %s", text)
    print(f"printed {text}")
    return text


@app.task(name="lifecycle.nap")
def nap(seconds: float) -> float:
    """Keeps a worker thread busy (a shutdown then waits for it)."""
    import time

    time.sleep(seconds)
    return seconds

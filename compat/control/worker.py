"""The worker side of ``app.control``: each worker process answers the control channel for itself.

``WorkerControl`` is a middleware: it knows the Dramatiq ``Worker`` of its process (from
``after_worker_boot``), which facade tasks run in which thread (``before``/``after_process_message``) and
how many ran. Once the worker has booted it subscribes to the control channel (``mailbox.py``) in a daemon
thread and answers each request addressed to it with the command of that name (``commands.py``).

Each worker process is one node, named ``worker-<pid>@<host>`` (``app.worker_hostname``); a Dramatiq
worker group of ``-p 4`` is four nodes, as a Celery worker's pool processes are not, because each of our
processes consumes for itself.

Terminating a task (``revoke(terminate=True)``) raises ``TaskTerminated`` in the thread running it
(``PyThreadState_SetAsyncExc``, as Dramatiq's own time limit does). The exception is delivered when the
thread next runs Python bytecode: a task blocked in one long C call (``time.sleep(600)``, a socket read
without a timeout) stops when that call returns. Whatever the signal asked for (``TERM``, ``KILL``, ...),
the process lives on and only that task stops; it is recorded as REVOKED and its message acknowledged.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from dramatiq.middleware import Middleware
from dramatiq.threading import raise_thread_exception

from ..exceptions import TaskTerminated
from ..task import is_facade_task

logger = logging.getLogger("compat.control")


class Running:
    """A facade task running in this process: its thread, message and start time."""

    __slots__ = ("thread_id", "message", "started", "terminating")

    def __init__(self, thread_id: int, message: Any) -> None:
        self.thread_id = thread_id
        self.message = message
        self.started = time.time()
        self.terminating = False


class WorkerControl(Middleware):
    """Tracks this process's running tasks and answers control requests addressed to it.

    Parameters:
      app: the facade app whose control channel to answer.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.running: dict[str, Running] = {}
        self.totals: Counter[str] = Counter()
        self.worker: Any = None
        self.booted = time.time()
        self.mailbox: Any = None
        #: What to do once the current request has been answered (``shutdown``, ``pool_restart``).
        self.after_reply: Callable[[], None] | None = None

    @property
    def node(self) -> str:
        return self.app.worker_hostname

    # -- lifecycle ---------------------------------------------------------------------------------
    def after_worker_boot(self, broker, worker):
        self.worker = worker
        self.booted = time.time()
        node = f"worker-{os.getpid()}@{socket.gethostname()}"
        if self.app.worker_hostname != node:  # the app was built in a parent process
            self.app.worker_hostname = node
        from .mailbox import Mailbox

        try:
            self.mailbox = Mailbox(self.app)
        except RuntimeError:
            logger.info("app.control is off in this worker: the app has no Redis store")
            return
        self.mailbox.listen(self.on_request)

    # -- running tasks -----------------------------------------------------------------------------
    def before_process_message(self, broker, message):
        if is_facade_task(broker, message) is None:
            return
        with self.lock:
            self.running[message.message_id] = Running(threading.get_ident(), message)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        with self.lock:
            if self.running.pop(message.message_id, None) is not None:
                self.totals[message.actor_name] += 1

    def after_skip_message(self, broker, message):
        with self.lock:
            self.running.pop(message.message_id, None)

    def terminate(self, task_ids: set[str]) -> list[str]:
        """Raise ``TaskTerminated`` in the threads running ``task_ids``; the ids it was raised for."""
        done = []
        with self.lock:  # the task cannot finish (and its thread move on) while we decide
            for task_id in task_ids:
                entry = self.running.get(task_id)
                if entry is None or entry.terminating:
                    continue
                entry.terminating = True
                raise_thread_exception(entry.thread_id, TaskTerminated)
                done.append(task_id)
        return done

    def snapshot(self) -> list[Running]:
        with self.lock:
            return list(self.running.values())

    # -- requests ----------------------------------------------------------------------------------
    def on_request(self, request: dict[str, Any]) -> None:
        """Answer one control request if it is addressed to this node."""
        from .commands import run_command

        destination = request.get("destination")
        if destination and self.node not in destination:
            return
        answer = run_command(self, request["command"], request.get("arguments") or {})
        reply_to = request.get("reply_to")
        if isinstance(reply_to, str) and reply_to.startswith(self.mailbox.channel + ":reply:"):
            try:
                self.mailbox.reply(reply_to, self.node, answer)
            except Exception:
                logger.warning("could not reply to control command %r", request["command"], exc_info=True)
        action, self.after_reply = self.after_reply, None
        if action is not None:
            action()

"""Celery's worker lifecycle and logging signals, sent in each Dramatiq worker process.

Each Dramatiq worker process is one Celery node (``worker-<pid>@<host>``, as ``app.control`` names it)
whose pool runs in the process itself, as Celery's ``solo`` and ``threads`` pools do. So every process
sends, in Celery's order (that of its default prefork worker, main process and child merged):

- once the project is imported (Dramatiq's ``process_boot``): ``import_modules`` (sender the app), then
  the app's ``imports`` and ``include`` modules are imported (as Celery's worker does), ``celeryd_init``
  (sender the node name; ``instance``, ``conf``, ``options``), ``worker_init`` (sender the worker),
  then the logging set-up (``setup_logging``, ``after_setup_logger``,
  ``after_setup_task_logger``: ``compat.worker_logging``);
- before its threads start (``worker_boot``): ``celeryd_after_setup``, the stdout redirection
  (``worker_redirect_stdouts``), ``worker_process_init`` (sender the node name), so a receiver that
  resets connections runs before any task;
- once it consumes: ``worker_ready`` (sender the consumer);
- on SIGTERM (or SIGHUP): ``worker_shutting_down`` (``sig``, ``how='Warm'``, ``exitcode=0``); a second
  SIGTERM makes Dramatiq exit at once: ``how='Cold'``, ``exitcode=1``, and the two below are sent first;
- once its threads stopped: ``worker_process_shutdown`` (``pid``, ``exitcode``) then ``worker_shutdown``.

``worker_before_create_process`` is never sent: no node process forks pool processes (Celery's solo and
threads pools do not send it either), and Dramatiq's master, which forks the worker processes, never
imports the project. ``heartbeat_sent`` is sent by the metrics recorder's heartbeat (``compat.metrics``).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from typing import Any

from dramatiq.middleware import Middleware

from .. import signals, worker_logging

logger = logging.getLogger("compat.worker")

EX_OK, EX_FAILURE = 0, 1


def dramatiq_options(argv: list[str]) -> dict[str, Any]:
    """The worker's command-line options, as Celery's ``celeryd_init`` passes its own (``options``)."""
    try:
        from dramatiq.cli import make_argument_parser

        args, _ = make_argument_parser().parse_known_args(argv)
    except (SystemExit, Exception):  # not started by the dramatiq CLI
        return {}
    return {
        "concurrency": args.threads,
        "processes": args.processes,
        "queues": list(args.queues or ()) or None,
        "logfile": args.log_file,
        "pidfile": args.pid_file,
        "loglevel": logging.DEBUG if args.verbose else logging.INFO,
        "pool_cls": "threads",
        "modules": [args.broker, *args.modules],
    }


class Worker:
    """What Celery's worker signals pass as the worker (its ``WorkController``): this process's node."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.app = app
        self.hostname: str = app.worker_hostname
        self.pid = os.getpid()
        self.options = options
        self.concurrency = options.get("concurrency")
        self.loglevel = options.get("loglevel", logging.INFO)
        self.logfile = options.get("logfile")
        self.pidfile = options.get("pidfile")
        self.pool_cls = "threads"
        self.worker: Any = None  # the Dramatiq Worker, once it boots
        self.consumer: Consumer | None = None

    def __repr__(self) -> str:
        return f"<Worker: {self.hostname}>"


class Consumer:
    """What ``worker_ready`` passes as its sender (Celery's consumer): the app, the node, its queues."""

    def __init__(self, node: Worker) -> None:
        self.app = node.app
        self.hostname = node.hostname
        self.controller = node
        self.worker = node.worker

    @property
    def queues(self) -> list[str]:
        return sorted(name for name in self.worker.consumers if not name.endswith(".DQ"))

    def __repr__(self) -> str:
        return f"<Consumer: {self.hostname}>"


def node_consumer(broker: Any) -> Consumer | None:
    """This worker process's consumer (the sender of ``task_unknown``/``task_rejected``), once it booted."""
    for middleware in getattr(broker, "middleware", ()):
        if isinstance(middleware, WorkerLifecycle) and middleware.node is not None:
            return middleware.node.consumer
    return None


class WorkerLifecycle(Middleware):
    """Sends the worker lifecycle and logging signals of this process (see the module's docstring).

    Parameters:
      app: the facade app whose worker this is.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.node: Worker | None = None
        self.custom_logging = False
        self.stopping = 0
        self.ended = False
        self.lock = threading.Lock()

    def after_process_boot(self, broker):
        import socket

        app = self.app
        if app is None:
            return
        app.worker_hostname = f"worker-{os.getpid()}@{socket.gethostname()}"
        node = self.node = Worker(app, dramatiq_options(sys.argv[1:]))
        answers = signals.import_modules.send(sender=app)
        for _, answer in answers:
            if isinstance(answer, Exception):
                raise answer  # as Celery's loader: a failing receiver stops the worker
        for module in (*(app.conf.imports or ()), *(app.conf.include or ())):
            importlib.import_module(module)  # Celery's worker imports them next (rundramatiq did already)
        signals.celeryd_init.send(sender=node.hostname, instance=node, conf=app.conf, options=node.options)
        signals.worker_init.send(sender=node)
        self.custom_logging = worker_logging.setup(app, node.loglevel, node.logfile)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if signum is not None:
                    self._wrap_handler(signum)

    def before_worker_boot(self, broker, worker):
        node = self.node
        if node is None:  # a Worker started outside the dramatiq CLI (tests): no process lifecycle
            return
        node.worker = worker
        signals.celeryd_after_setup.send(sender=node.hostname, instance=node, conf=self.app.conf)
        if not self.custom_logging:
            worker_logging.redirect_stdouts(self.app)
        signals.worker_process_init.send(sender=node.hostname)

    def after_worker_boot(self, broker, worker):
        node = self.node
        if node is None:
            return
        node.consumer = Consumer(node)
        signals.worker_ready.send(sender=node.consumer)
        logger.info("%s ready.", node.hostname)

    def after_worker_shutdown(self, broker, worker):
        self._end(EX_OK)

    def _end(self, exitcode: int) -> None:
        with self.lock:
            if self.ended or self.node is None:
                return
            self.ended = True
        node = self.node
        signals.worker_process_shutdown.send(sender=node.hostname, pid=os.getpid(), exitcode=exitcode)
        signals.worker_shutdown.send(sender=node)
        out = sys.stdout
        if isinstance(out, worker_logging.LoggingProxy):
            out.flush()

    def _wrap_handler(self, signum: int) -> None:
        original = signal.getsignal(signum)
        if not callable(original):
            return
        name = signal.Signals(signum).name

        def shutting_down(number, frame):
            self.stopping += 1
            cold = self.stopping > 1 and number == signal.SIGTERM
            if self.node is not None:
                signals.worker_shutting_down.send(
                    sender=self.node.hostname, sig=name, how="Cold" if cold else "Warm",
                    exitcode=EX_FAILURE if cold else EX_OK,
                )
            if cold:  # Dramatiq exits at once: no after_worker_shutdown will come
                self._end(EX_FAILURE)
            return original(number, frame)

        signal.signal(signum, shutting_down)

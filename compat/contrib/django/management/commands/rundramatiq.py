"""``python manage.py rundramatiq``: the stock Dramatiq worker with Django settings and every task.

By default the worker group runs under ``compat.supervisor``, which starts it again if one of its
processes dies (Dramatiq's master would otherwise stop the whole group); ``--no-supervise`` runs the
``dramatiq`` command directly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def queues_except(excluded: list[str], app: Any = None) -> list[str]:
    """Every queue the tasks and routes of ``app`` (the current app) name, but ``excluded``."""
    from compat.app import get_current_app

    app = app or get_current_app()
    names = set(app.routed_queues()) | {q for q in app.broker.get_declared_queues() if not q.endswith(".DQ")}
    unknown = set(excluded) - names
    if unknown:
        raise CommandError(f"--exclude-queues names queues no task uses: {', '.join(sorted(unknown))}")
    kept = sorted(names - set(excluded))
    if not kept:
        raise CommandError("--exclude-queues leaves no queue to consume")
    return kept


def default_threads(environ) -> int:
    """Threads per process without ``--threads``: ``DRAMATIQ_THREADS``, else the project's
    ``worker_concurrency`` (Celery's setting), else Dramatiq's 8."""
    if environ.get("DRAMATIQ_THREADS"):
        return int(environ["DRAMATIQ_THREADS"])
    from compat.app import get_current_app

    return int(get_current_app().conf.get("worker_concurrency") or 8)


def worker_args(
    processes: int,
    threads: int,
    queues: list[str] | None = None,
    *,
    pid_file: str | None = None,
    log_file: str | None = None,
    shutdown_timeout: int | None = None,
    path: str = ".",
) -> list[str]:
    """The ``dramatiq`` arguments for these options."""
    args = [
        "compat.contrib.django.worker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--path",
        path,
    ]
    if queues:
        args += ["--queues", *queues]
    if pid_file:
        args += ["--pid-file", pid_file]
    if log_file:
        args += ["--log-file", log_file]
    if shutdown_timeout is not None:
        args += ["--worker-shutdown-timeout", str(shutdown_timeout)]
    return args


def runner_args(
    supervise: bool, *, stuck_after: float | None = None, restart_delay: float | None = None
) -> list[str]:
    """The interpreter arguments that start the worker group: under ``compat.supervisor`` with its
    options (which it checks itself, before it starts the group), or the plain ``dramatiq`` command
    (which has neither, so giving them is an error)."""
    given = {"--stuck-after": stuck_after, "--restart-delay": restart_delay}
    given = {flag: value for flag, value in given.items() if value is not None}
    if not supervise:
        if given:
            kind = "an option" if len(given) == 1 else "options"
            flags = ", ".join(given)
            raise CommandError(f"{flags}: {kind} of the supervisor, which --no-supervise leaves out")
        return ["-m", "dramatiq"]
    args = ["-m", "compat.supervisor"]
    for flag, value in given.items():
        args += [flag, str(value)]
    return args


class Command(BaseCommand):
    help = "Run Dramatiq worker processes for every task and routed queue of the project."

    def add_arguments(self, parser):
        parser.add_argument(
            "--processes", "-p", type=int, default=int(os.environ.get("DRAMATIQ_PROCESSES", 2))
        )
        parser.add_argument(
            "--threads", "-t", type=int, help="default: DRAMATIQ_THREADS, else worker_concurrency, else 8"
        )
        parser.add_argument("--queues", "-Q", nargs="*", help="consume only these queues (default: all)")
        parser.add_argument(
            "--exclude-queues", "-X", nargs="*", help="consume every queue but these (for a separate group)"
        )
        parser.add_argument("--pid-file")
        parser.add_argument("--log-file")
        parser.add_argument("--worker-shutdown-timeout", type=int, help="milliseconds to let tasks finish")
        parser.add_argument("--no-supervise", action="store_true", help="do not restart the group if it dies")
        parser.add_argument(
            "--stuck-after", type=float,
            help="seconds the group's master may have no worker process before the supervisor restarts it "
            "(default 10)",
        )
        parser.add_argument(
            "--restart-delay", type=float,
            help="seconds the supervisor waits before restarting the group (default 1)",
        )

    def handle(self, *args, **options):
        runner = runner_args(  # checked first: --no-supervise with the supervisor's options starts nothing
            not options["no_supervise"],
            stuck_after=options["stuck_after"],
            restart_delay=options["restart_delay"],
        )
        queues = options["queues"]
        if options["exclude_queues"]:
            if queues:
                raise CommandError("give --queues or --exclude-queues, not both")
            queues = queues_except(options["exclude_queues"])
        dramatiq_args = worker_args(
            options["processes"],
            options["threads"] or default_threads(os.environ),
            queues,
            pid_file=options["pid_file"],
            log_file=options["log_file"],
            shutdown_timeout=options["worker_shutdown_timeout"],
            path=os.getcwd(),
        )
        argv = [sys.executable, *runner, *dramatiq_args]
        self.stdout.write(f"Starting workers: {' '.join(argv[1:])}")
        self.stdout.flush()
        os.execv(sys.executable, argv)

"""``python manage.py rundramatiq``: the stock Dramatiq worker with Django settings and every task."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


def worker_argv(
    processes: int,
    threads: int,
    queues: list[str] | None = None,
    *,
    pid_file: str | None = None,
    log_file: str | None = None,
    shutdown_timeout: int | None = None,
    path: str = ".",
) -> list[str]:
    """The ``dramatiq`` command line for these options."""
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "compat.contrib.django.worker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--path",
        path,
    ]
    if queues:
        argv += ["--queues", *queues]
    if pid_file:
        argv += ["--pid-file", pid_file]
    if log_file:
        argv += ["--log-file", log_file]
    if shutdown_timeout is not None:
        argv += ["--worker-shutdown-timeout", str(shutdown_timeout)]
    return argv


class Command(BaseCommand):
    help = "Run Dramatiq worker processes for every task and routed queue of the project."

    def add_arguments(self, parser):
        parser.add_argument(
            "--processes", "-p", type=int, default=int(os.environ.get("DRAMATIQ_PROCESSES", 2))
        )
        parser.add_argument("--threads", "-t", type=int, default=int(os.environ.get("DRAMATIQ_THREADS", 8)))
        parser.add_argument("--queues", "-Q", nargs="*", help="consume only these queues (default: all)")
        parser.add_argument("--pid-file")
        parser.add_argument("--log-file")
        parser.add_argument("--worker-shutdown-timeout", type=int, help="milliseconds to let tasks finish")

    def handle(self, *args, **options):
        argv = worker_argv(
            options["processes"],
            options["threads"],
            options["queues"],
            pid_file=options["pid_file"],
            log_file=options["log_file"],
            shutdown_timeout=options["worker_shutdown_timeout"],
            path=os.getcwd(),
        )
        self.stdout.write(f"Starting workers: {' '.join(argv[1:])}")
        self.stdout.flush()
        os.execv(sys.executable, argv)

"""``manage.py scheduler``: the scheduler daemon (APScheduler; replaces celery beat).

Thin on purpose: options come from ``scheduler.cli``, the work from ``scheduler.cli.run``.  The one
Threads-specific piece lives here, not in the generic daemon: the counter flush
(``threads.tasks.batch_update_counters``) is scheduled by default every
``THREADS_COUNTER_FLUSH_INTERVAL`` seconds (default 5; 0 disables it) unless
``CELERY_BEAT_SCHEDULE`` already schedules that task.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from compat.schedules import schedule
from scheduler.cli import add_arguments, load_app, run
from scheduler.misfire import MisfirePolicy
from scheduler.sources import Entry

COUNTER_FLUSH_TASK = "threads.tasks.batch_update_counters"


def default_entries(app: Any, grace: float | None = 60.0) -> list[Entry]:
    """Threads' built-in entries: the counter flush, unless configured otherwise."""
    interval = getattr(settings, "THREADS_COUNTER_FLUSH_INTERVAL", 5)
    beat = getattr(app.conf, "beat_schedule", None) or {}
    if not interval or any(spec.get("task") == COUNTER_FLUSH_TASK for spec in beat.values()):
        return []
    return [
        Entry(
            name="batch_update_counters",
            task=COUNTER_FLUSH_TASK,
            schedule=schedule(interval),
            policy=MisfirePolicy(grace=grace),
            source="threads default",
        )
    ]


class Command(BaseCommand):
    help = "Run the scheduler daemon: enqueue periodic tasks, one leader at a time (see scheduler/)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--app",
            default=getattr(settings, "SCHEDULER_APP", "threads.celery:app"),
            help="the compat app, as module:attribute (default threads.celery:app)",
        )
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not logging.getLogger().handlers:
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
            )
        app = load_app(options["app"])
        extra = default_entries(app, options["misfire_grace_time"])
        run(app, argparse.Namespace(**options), extra=extra, out=self.stdout)

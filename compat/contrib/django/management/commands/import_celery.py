"""``manage.py import_celery --from redis://...``: import-celery with the project's app."""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from compat import cutover, get_current_app


class Command(BaseCommand):
    help = "Move the messages Celery's Redis still holds (queued, unacknowledged, countdown/ETA) into compat."

    def add_arguments(self, parser):
        cutover.add_arguments(parser, app_required=False)

    def handle(self, *args, **options):
        # The progress bar rewrites one line: it goes to the raw stderr, not Django's line-ending wrapper.
        status = cutover.run(
            argparse.Namespace(**options), app=get_current_app(), out=self.stdout, err=sys.stderr
        )
        if status:
            raise SystemExit(status)

"""``manage.py compat_check [PATH ...]``: ``python -m compat check`` over the project (default: BASE_DIR)."""

from __future__ import annotations

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand

from compat import check


class Command(BaseCommand):
    help = "Report every Celery usage in the project and whether compat supports it (exit 1: unsupported)."

    def add_arguments(self, parser):
        check.add_arguments(parser, paths="*")

    def handle(self, *args, **options):
        options["paths"] = options["paths"] or [str(getattr(settings, "BASE_DIR", "."))]
        status = check.run(argparse.Namespace(**options), out=self.stdout)
        if status:
            raise SystemExit(status)

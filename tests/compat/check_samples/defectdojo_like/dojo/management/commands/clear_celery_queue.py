from django.core.management.base import BaseCommand

from dojo.celery import app


class Command(BaseCommand):
    help = "Purge every queued task"

    def handle(self, *args, **options):
        purged = app.control.purge()
        self.stdout.write(f"purged {purged} tasks")


def celery_status(timeout=2):
    inspector = app.control.inspect(timeout=timeout)
    stats = inspector.stats()
    return bool(stats)

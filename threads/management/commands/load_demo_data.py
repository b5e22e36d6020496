"""Load idempotent demo data (see ``threads.demo``): users, follows, posts, likes, a fact check, an image."""

from django.core.management.base import BaseCommand

from threads.demo import DEMO_PASSWORD, DEMO_USERS, load_demo_data, load_demo_users  # noqa: F401


class Command(BaseCommand):
    help = "Create missing demo data (users alice, bob, carol; password demo-password) and enqueue its jobs."

    def handle(self, *args, **options):
        report = load_demo_data()
        created = ", ".join(f"{n} {kind}" for kind, n in report.created.items() if n) or "nothing new"
        self.stdout.write(f"demo data: created {created}; users: {', '.join(DEMO_USERS)} / {DEMO_PASSWORD}")
        for job in report.enqueued:
            self.stdout.write(f"  enqueued {job}")

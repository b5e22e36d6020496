"""Load idempotent demo data: a few users to log in with.

Follows and posts are not loaded yet: their models arrive with the domain issue, which
extends this command (issue 2 asks for users, follows and posts).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERS = ("alice", "bob", "carol")
DEMO_PASSWORD = "demo-password"


def load_demo_users(password: str = DEMO_PASSWORD) -> list[str]:
    """Create the demo users that do not exist yet; return the names created."""
    user_model = get_user_model()
    created = []
    for name in DEMO_USERS:
        user, was_created = user_model.objects.get_or_create(
            username=name, defaults={"email": f"{name}@example.com"}
        )
        if was_created:
            user.set_password(password)
            user.save(update_fields=["password"])
            created.append(name)
    return created


class Command(BaseCommand):
    help = "Create the demo users (alice, bob, carol; password demo-password) if missing."

    def handle(self, *args, **options):
        created = load_demo_users()
        existing = len(DEMO_USERS) - len(created)
        self.stdout.write(f"demo data: {len(created)} user(s) created, {existing} already present")

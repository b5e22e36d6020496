"""``manage.py recount_counters [post ids...]``: recompute post counters from rows and fix drift."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from threads.services import counter_outbox
from threads.services.counters import recount


class Command(BaseCommand):
    help = (
        "Recompute likes_count and comments_count from the like and comment rows (all posts, or the "
        "ids given), fix the ones that drifted, and report each change."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("post_ids", nargs="*", type=int, help="only these posts (default: all)")
        parser.add_argument("--dry-run", action="store_true", help="report drift, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = options["post_ids"] or None
        left = counter_outbox.drain()
        if left:
            raise CommandError(
                f"{left} counter delta(s) still wait in the outbox (is Redis down?); a recount now would "
                "count them twice. Run it again once Redis is back."
            )
        drift = recount(ids, dry_run=options["dry_run"])
        verb = "would fix" if options["dry_run"] else "fixed"
        for d in drift:
            self.stdout.write(f"post {d.post_id} {d.field}: {d.shown} -> {d.actual}")
        posts = len({d.post_id for d in drift})
        self.stdout.write(f"{verb} {len(drift)} counter(s) on {posts} post(s)")

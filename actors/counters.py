"""The counter flush: pending Redis deltas into ``Post.likes_count`` / ``Post.comments_count``."""

from __future__ import annotations

from compat import shared_task
from threads.services import counters


@shared_task(name="threads.tasks.batch_update_counters")
def batch_update_counters():
    """Periodically apply counter deltas in batches (the guide's 3.2, without its hget/hdel race).

    See ``threads.services.counters.flush`` for the atomic claim; returns ``{"posts", "claims"}``.
    """
    return counters.flush()

"""The counter flush: pending Redis deltas into ``Post.likes_count`` / ``Post.comments_count``."""

from __future__ import annotations

from compat import shared_task
from threads.services import counters


@shared_task(name="threads.tasks.batch_update_counters")
def batch_update_counters():
    """Periodically apply counter deltas in batches (the guide's 3.2, without its hget/hdel race).

    Scheduled every ``THREADS_COUNTER_FLUSH_INTERVAL`` seconds by ``manage.py scheduler``. Each delta is
    applied exactly once, also when a run dies mid-flush or two runs overlap: see
    ``threads.services.counters``. Returns ``{"posts", "claims"}`` (plus ``skipped``/``busy`` when so).
    """
    return counters.flush()

"""Priority lanes: how the Redis broker turns a message's priority number into the list it waits in.

Celery's ``priority=0..9`` (0 highest, as on Celery's Redis transport) falls in one of the
``priority_steps`` (default 0/3/6/9); the top step is the queue's own list ``<queue>``, every other step a
lane list ``<queue>.p<step>``. A message keeps its queue's name (workers look consumers up by it) and
carries its lane in ``options["lane"]``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence


def lane_for(priority: int | None, steps: Sequence[int]) -> str:
    """The lane for ``priority``: ``''`` (the queue itself) for the top step, else ``'p<step>'``."""
    if priority is None or not steps:
        return ""
    step = steps[max(0, bisect.bisect_right(steps, int(priority)) - 1)]
    return "" if step == steps[0] else f"p{step}"


def lane_queue(queue_name: str, lane: str) -> str:
    """The Redis list of ``lane`` on ``queue_name`` (``'q'``, ``'q.p3'``, ``'q.p3.DQ'``)."""
    if not lane:
        return queue_name
    if queue_name.endswith(".DQ"):
        return f"{queue_name[:-3]}.{lane}.DQ"
    return f"{queue_name}.{lane}"

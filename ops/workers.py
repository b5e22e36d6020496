"""The workers panel: the recorder's heartbeats (alive and dead) joined with what live workers answer.

Heartbeats (``compat.monitoring.workers``) cost two Redis calls and list workers seen in the last hour,
alive or not: one whose heartbeat is over 30 s old is shown dead, with when it was last seen; one that
shut down cleanly is shown stopped. ``inspect`` (``app.control.inspect().stats()`` and ``.active()``,
answered by the live workers over the control mailbox) adds concurrency, uptime and the tasks running
now; it waits for the replies (at most ``INSPECT_TIMEOUT`` each), so the page asks for it on a slower
cadence than the overview.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from compat import monitoring
from compat.app import get_current_app

from .api import endpoint
from .previews import trimmed

INSPECT_TIMEOUT = 1.0


def panel(app: Any, inspect: bool = True) -> list[dict[str, Any]]:
    """Every worker seen in the last hour, with ``stats``/``active`` from inspect when it answered."""
    found = monitoring.workers(app, include_dead=True)
    alive = [worker for worker in found if worker["alive"]]
    replies: dict[str, dict[str, Any]] = {}
    if inspect and alive:
        probe = app.control.inspect(timeout=INSPECT_TIMEOUT, limit=len(alive))
        stats, active = probe.stats() or {}, probe.active() or {}
        for node, reply in stats.items():
            if isinstance(reply, dict) and "pid" in reply:
                replies[str(reply["pid"])] = {"node": node, "stats": reply, "active": active.get(node) or []}
    for worker in found:
        reply = replies.get(str(worker["pid"])) if worker["alive"] else None
        worker["node"] = reply["node"] if reply else None
        if reply:
            stats = reply["stats"]
            worker["concurrency"] = (stats.get("pool") or {}).get("max-concurrency")
            worker["uptime"] = stats.get("uptime")
            worker["active"] = [trimmed(dict(task)) for task in reply["active"]]
        else:
            worker["concurrency"] = worker["uptime"] = None
            worker["active"] = []
    return found


@endpoint("GET")
def api_workers(request: HttpRequest) -> list:
    """``GET ?inspect=0``: the workers panel (``inspect=0`` leaves out what only live workers can tell)."""
    return panel(get_current_app(), inspect=request.GET.get("inspect") != "0")

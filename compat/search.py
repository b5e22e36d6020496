"""Finding tasks in what workers record: by id, name, state, time range, argument substring; a task's family.

The index is the recorder's list of recent executions (``<ns>:metrics:recent``, ``compat.metrics``),
newest first, capped at ``worker_metrics_recent`` events (default 10,000) with a 7-day TTL. It costs
workers nothing more than the event they already push in their flush pipeline: each event carries a
200-character preview of its arguments and its lineage (parent, root, group, chain still to run).

A search reads the list in pages of ``PAGE`` events (one ``LRANGE`` each) and stops as soon as it has
the page of matches asked for, or when it reaches events older than the time range: its cost is bounded
by the cap (at most cap / ``PAGE`` calls, about 4 MB at the default cap), whatever the query. The
argument substring matches the preview, so it finds what is in the first 200 characters of the
arguments' JSON. A task id is also looked up in the result store (its record outlives the index only as
long as ``result_expires``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .metrics import metrics_key
from .monitoring import _client_and_namespace

PAGE = 500
#: Events of another worker's flush may arrive this much out of order (seconds).
ORDER_SLACK = 30


@dataclass
class Query:
    """What to look for; empty fields match everything.

    ``name`` and ``args`` are case-insensitive substrings, ``state`` an exact state name, ``since`` and
    ``until`` epoch seconds of when the execution finished, ``exclude`` task names to leave out (the
    scheduler's housekeeping).
    """

    task_id: str | None = None
    name: str | None = None
    state: str | None = None
    since: float | None = None
    until: float | None = None
    args: str | None = None
    exclude: frozenset[str] = frozenset()

    def matches(self, event: dict[str, Any]) -> bool:
        if self.task_id and event.get("id") != self.task_id:
            return False
        if self.state and event.get("state") != self.state.upper():
            return False
        finished = event.get("finished") or 0
        if self.since is not None and finished < self.since:
            return False
        if self.until is not None and finished > self.until:
            return False
        name = event.get("task") or ""
        if name in self.exclude:
            return False
        if self.name and self.name.lower() not in name.lower():
            return False
        return not self.args or self.args.lower() in str(event.get("args") or "").lower()


def events(app: Any, stop_before: float | None = None) -> Iterator[dict[str, Any]]:
    """The index's events, newest first, read a page at a time (stops past ``stop_before``, with slack)."""
    client, ns = _client_and_namespace(app)
    key = metrics_key(ns, "recent")
    start = 0
    while True:
        page = client.lrange(key, start, start + PAGE - 1)
        for raw in page:
            event = json.loads(raw)
            if stop_before is not None and (event.get("finished") or 0) < stop_before - ORDER_SLACK:
                return
            yield event
        if len(page) < PAGE:
            return
        start += PAGE


def search(app: Any, query: Query, offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """A page of matching executions, newest first: ``{results, offset, limit, more, scanned}``."""
    found: list[dict[str, Any]] = []
    scanned = 0
    for event in events(app, stop_before=query.since):
        scanned += 1
        if query.matches(event):
            found.append(event)
            if len(found) > offset + limit:
                break
    return {
        "results": found[offset : offset + limit],
        "offset": offset,
        "limit": limit,
        "more": len(found) > offset + limit,
        "scanned": scanned,
    }


def family(app: Any, task_id: str, rounds: int = 4) -> list[dict[str, Any]]:
    """Every indexed execution of ``task_id``'s canvas: linked to it by root, group, parent or chord body.

    One read of the index (bounded by its cap, as a search is), then a few passes in memory, each
    adding what links to what was found (a chord body's parent is one group member; its siblings come
    through their group, the steps after it through their root).
    """
    indexed = list(events(app))
    ids, roots, groups = {task_id}, {task_id}, set()
    members: list[dict[str, Any]] = []
    for _ in range(rounds):
        found = [
            event
            for event in indexed
            if event.get("id") in ids
            or event.get("id") in roots
            or event.get("root") in roots
            or (event.get("group") and event["group"] in groups)
            or (event.get("chord") or {}).get("id") in ids
        ]
        grown = (
            {event["id"] for event in found} | ids,
            roots | {event.get("root") or event["id"] for event in found},
            groups | {event["group"] for event in found if event.get("group")},
        )
        members = found
        if grown == (ids, roots, groups):
            break
        ids, roots, groups = grown
    return members

"""Decide which overdue runs to enqueue: the per-entry misfire policy.

Runs are "due" when their scheduled time lies after the entry's last handled run (kept in Redis,
so it survives restarts and leader changes) and at or before now.  One rule covers both cases:

* every due run is at most ``grace`` seconds late (a leader change, a slow tick): enqueue each
  of them, late, once.  Nothing is lost across a failover shorter than the grace.
* some due run is older than ``grace`` (the scheduler was down): that is a misfire.  With
  ``coalesce`` (the default) the whole backlog becomes one run, keyed by the latest due time;
  without it the stale runs are skipped and only the ones inside the grace are enqueued.

``grace=None`` means "never stale": every due run is enqueued (use with care after long outages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class MisfirePolicy:
    """How an entry treats late runs; ``grace`` in seconds (``None``: no limit)."""

    grace: float | None = 60.0
    coalesce: bool = True

    def __post_init__(self) -> None:
        if self.grace is not None and self.grace < 0:
            raise ValueError(f"misfire_grace_time must be >= 0 or None, got {self.grace!r}")


@dataclass
class Plan:
    """The runs to enqueue now (oldest first) and a one-line note when a backlog was handled."""

    runs: list[datetime] = field(default_factory=list)
    note: str | None = None


def plan_runs(
    due: list[datetime],
    now: datetime,
    policy: MisfirePolicy,
    more: bool = False,
    latest: datetime | None = None,
) -> Plan:
    """Apply ``policy`` to the ``due`` runs; ``more``/``latest`` describe a truncated backlog."""
    if not due:
        return Plan()
    latest = latest or due[-1]
    count = f"{len(due)}+" if more else str(len(due))
    stale = [t for t in due if policy.grace is not None and (now - t).total_seconds() > policy.grace]
    if not stale and not more:
        note = f"{count} runs since {due[0].isoformat()} enqueued late" if len(due) > 1 else None
        return Plan(runs=list(due), note=note)
    gap = f"{count} runs due since {due[0].isoformat()} (last {latest.isoformat()})"
    if policy.coalesce:
        return Plan(runs=[latest], note=f"{gap}: coalesced into one run now")
    fresh = [t for t in due if t not in stale]
    if more:  # a backlog too long to list: only its latest run can still be inside the grace
        fresh = [latest] if policy.grace is None or (now - latest).total_seconds() <= policy.grace else []
    return Plan(
        runs=fresh,
        note=f"{gap}: skipped the runs older than {policy.grace}s, enqueued {len(fresh)} within the grace",
    )

"""Firing the entries without a timetable: asked ``is_due(last_run_at)``, as beat asks them.

One poll job looks every ``POLL_SECONDS`` at the entries whose next check has come (``is_due`` says when:
its ``next``, capped at ``MAX_CHECK_SECONDS``).  A due run is claimed as "the run after the last one"
(``RunLedger.claim_after``), so across daemons and a leader's death it is enqueued once; a daemon that
finds the claim taken only moves the entry's last run forward.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .runs import Store, to_ms
from .sources import Entry

log = logging.getLogger("scheduler")

POLL_SECONDS = 0.1  # how often is_due entries due for a look are asked (a dict scan; cheap)
MAX_CHECK_SECONDS = 60.0  # an is_due entry is asked again at least this often, whatever it answered


class IsDueFiring:
    """The ``Daemon``'s half that fires ``is_due`` entries (it provides the lease, entries and stores)."""

    lease: Any
    ledger: Any
    entries: dict[str, Entry]
    triggers: dict[str, Any]
    _locks: dict[str, Any]
    _next_check: dict[str, float]
    _failing: set[str]

    def poll_due(self) -> None:
        """One pass over the ``is_due`` entries whose next check has come (the poll job)."""
        if not self.lease.is_held():
            return
        clock = time.monotonic()
        for name in [n for n in list(self.entries) if n not in self.triggers]:
            if self._next_check.get(name, 0.0) <= clock + POLL_SECONDS / 2:  # half a tick early, not one late
                try:
                    self.fire_is_due(name)
                    self._failing.discard(name)
                except Exception:
                    if name not in self._failing:  # one traceback per failure, not one every 5 s
                        log.exception("entry %s: is_due check failed; retrying every 5 s", name)
                        self._failing.add(name)
                    self._next_check[name] = clock + 5.0

    def fire_is_due(self, name: str, now: datetime | None = None) -> datetime | None:
        """Ask ``name``'s schedule ``is_due(last run)``; enqueue once if due. Returns the run's time."""
        if not self.lease.is_held():
            return None
        with self._locks[name]:
            entry = self.entries.get(name)
            if entry is None or name in self.triggers:
                return None
            store = self.store(entry)
            now = now or datetime.now(UTC)
            if not store.gate(now):
                self._next_check[name] = time.monotonic() + 1.0
                return None
            last = store.last() or store.baseline(now)
            last = last.astimezone(self.tz)
            due, next_s = entry.schedule.is_due(last)
            self._next_check[name] = time.monotonic() + min(max(float(next_s), 0.0), MAX_CHECK_SECONDS)
            if not due:
                return None
            late = self._lateness(entry, last)
            grace = entry.policy.grace
            if grace is not None and late > grace and not entry.policy.coalesce:
                log.warning("entry %s: run due %.0fs ago, past its grace of %ss: skipped", name, late, grace)
                store.advance(now, 0)
                return None
            return now if self._send_after(entry, store, last, now) else None

    def _lateness(self, entry: Entry, last: datetime) -> float:
        try:
            return max(-entry.schedule.remaining_estimate(last).total_seconds(), 0.0)
        except NotImplementedError:  # a subclass with is_due only: its lateness is unknown
            return 0.0

    def _send_after(self, entry: Entry, store: Store, last: datetime, now: datetime) -> bool:
        """Claim and enqueue the run after ``last``; a run someone else enqueued moves ``last`` only."""
        task_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.key_prefix}:{entry.name}:after-{to_ms(last)}"))
        taken_at = self.ledger.claim_after(entry.name, last, task_id, now)
        if taken_at is not None:
            store.advance(taken_at, 1)  # a no-op unless its enqueuer died before recording it
            return False
        try:
            self.enqueue(
                entry.task, args=list(entry.args), kwargs=dict(entry.kwargs), **entry.options, task_id=task_id
            )
        except Exception:
            self.ledger.unclaim_after(entry.name, last)
            raise
        store.advance(now, 1)
        log.info("entry %s: enqueued %s (due after %s)", entry.name, entry.task, last.isoformat())
        return True

"""The shared run ledger in Redis: which scheduled runs were enqueued, and up to when.

Two kinds of keys, under the daemon's key prefix:

* ``<prefix>:run:<entry>:<epoch ms>`` is claimed with ``SET NX EX`` before a run is enqueued,
  so each (entry, scheduled time) is enqueued once even if two daemons briefly both believe they
  lead, or a new leader replays a gap the old one had partly covered.  Its value is the task id.
* ``<prefix>:last:<entry>`` holds the latest scheduled time handled (epoch ms), only ever moved
  forward.  A new leader reads it to find the runs that fell into the gap.

* ``<prefix>:run:<entry>:after-<epoch ms>`` claims the run that follows the last run at that time,
  for entries asked ``is_due`` (their runs have no timetable, so each run is named after the one
  before it).  Its value is ``<task id> <epoch ms it was enqueued at>``, so a daemon that finds the
  claim taken can still move the last run forward.

A run is claimed, then enqueued; a crash between the two loses that one run (a window of
microseconds), whereas the reverse order could enqueue it twice.

Where an entry's *last run* lives is its store: ``LedgerStore`` (this Redis ledger) for entries
from settings and actors, a database row for django-celery-beat's rows (``scheduler.database``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import redis

ADVANCE = """
local current = tonumber(redis.call('get', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
    redis.call('set', KEYS[1], ARGV[1])
    return 1
end
return 0
"""


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class RunLedger:
    """Claims runs and tracks the last handled run per entry, in Redis."""

    def __init__(self, client: redis.Redis, prefix: str, claim_ttl: int = 3600) -> None:
        self.client, self.prefix, self.claim_ttl = client, prefix, int(claim_ttl)
        self._advance = client.register_script(ADVANCE)

    def run_key(self, entry: str, scheduled: datetime) -> str:
        """The dedupe key of one scheduled run."""
        return f"{self.prefix}:run:{entry}:{to_ms(scheduled)}"

    def claim(self, entry: str, scheduled: datetime, task_id: str) -> bool:
        """Claim a run; False if some daemon already enqueued it."""
        return bool(self.client.set(self.run_key(entry, scheduled), task_id, nx=True, ex=self.claim_ttl))

    def unclaim(self, entry: str, scheduled: datetime) -> None:
        """Drop a claim whose enqueue failed, so the run can be retried."""
        self.client.delete(self.run_key(entry, scheduled))

    def last(self, entry: str) -> datetime | None:
        """The latest scheduled time handled for ``entry``, if any."""
        value = self.client.get(f"{self.prefix}:last:{entry}")
        return None if value is None else from_ms(int(value))

    def advance(self, entry: str, scheduled: datetime) -> None:
        """Record ``scheduled`` as handled, unless a later time already is."""
        self._advance(keys=[f"{self.prefix}:last:{entry}"], args=[to_ms(scheduled)])

    def baseline(self, entry: str, moment: datetime) -> datetime:
        """The last run of an entry never run: ``moment`` for the first daemon to ask, shared after."""
        key = f"{self.prefix}:last:{entry}"
        self.client.set(key, to_ms(moment), nx=True)
        return from_ms(int(self.client.get(key)))

    def mark_leading(self, moment: datetime, ttl: float) -> None:
        """Say that a leader was firing at ``moment`` (forgotten ``ttl`` seconds later)."""
        self.client.set(f"{self.prefix}:leading", to_ms(moment), px=int(ttl * 1000))

    def last_leading(self) -> datetime | None:
        """When a leader was last seen firing, if within the time ``mark_leading`` keeps it."""
        value = self.client.get(f"{self.prefix}:leading")
        return None if value is None else from_ms(int(value))

    def claim_after(self, entry: str, last: datetime, task_id: str, at: datetime) -> datetime | None:
        """Claim the run after ``last``; None if claimed now, else when the claimer enqueued it."""
        key = f"{self.prefix}:run:{entry}:after-{to_ms(last)}"
        if self.client.set(key, f"{task_id} {to_ms(at)}", nx=True, ex=self.claim_ttl):
            return None
        value = self.client.get(key)
        return from_ms(int(value.split()[1])) if value else at

    def unclaim_after(self, entry: str, last: datetime) -> None:
        """Drop the claim of the run after ``last`` (its enqueue failed)."""
        self.client.delete(f"{self.prefix}:run:{entry}:after-{to_ms(last)}")


class Store(Protocol):
    """Where one entry's last run is kept, and what may stop it from firing."""

    def last(self) -> datetime | None: ...

    def baseline(self, now: datetime) -> datetime: ...

    def gate(self, now: datetime) -> bool: ...

    def advance(self, moment: datetime, runs: int) -> None: ...


class LedgerStore:
    """An entry's last run in the Redis ledger (settings and actor entries)."""

    def __init__(self, ledger: RunLedger, entry: str) -> None:
        self.ledger, self.entry = ledger, entry

    def last(self) -> datetime | None:
        return self.ledger.last(self.entry)

    def baseline(self, now: datetime) -> datetime:
        return self.ledger.baseline(self.entry, now)

    def gate(self, now: datetime) -> bool:
        return True

    def advance(self, moment: datetime, runs: int) -> None:
        self.ledger.advance(self.entry, moment)

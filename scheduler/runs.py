"""The shared run ledger in Redis: which scheduled runs were enqueued, and up to when.

Two kinds of keys, under the daemon's key prefix:

* ``<prefix>:run:<entry>:<epoch ms>`` is claimed with ``SET NX EX`` before a run is enqueued,
  so each (entry, scheduled time) is enqueued once even if two daemons briefly both believe they
  lead, or a new leader replays a gap the old one had partly covered.  Its value is the task id.
* ``<prefix>:last:<entry>`` holds the latest scheduled time handled (epoch ms), only ever moved
  forward.  A new leader reads it to find the runs that fell into the gap.

A run is claimed, then enqueued; a crash between the two loses that one run (a window of
microseconds), whereas the reverse order could enqueue it twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

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

"""Counter deltas through the outbox: a like's or comment's ``HINCRBY`` commits with its row.

The delta is an outbox entry (kind ``threads.counter``) written in the transaction of the like or
comment. After commit it is added to the Redis counter store (``counters.post_key``) at once, or by an
outbox relay once Redis is back, so a Redis outage loses no increment. Adding is idempotent per entry:
one Lua script sets the marker ``<prefix>delta:<entry id>`` and does the ``HINCRBY`` only if the marker
is new, so an entry added twice (its process died before deleting the entry) counts once. Markers live
``THREADS_COUNTER_DEDUPE_SECONDS`` (a day), far longer than any entry waits to be deleted.

Readers use :func:`counts`: the counter store's exact reads, or while Redis is down the columns plus the
deltas still waiting in the outbox (what this database knows; deltas already in Redis show once it is
back).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings

from compat.contrib.django import outbox
from compat.exceptions import OperationalError
from threads.services import counters, redis_client

log = logging.getLogger(__name__)

KIND = "threads.counter"

# KEYS: the marker, the post's delta hash. ARGV: field, delta, marker seconds. Returns 1 if added.
_ADD_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
  return 1
end
return 0
"""

REDIS_DOWN = redis_client.REDIS_DOWN
_reads_degraded = False  # whether the last read found Redis down (logged once per outage)


@functools.lru_cache(maxsize=8)
def _script(client: redis.Redis):
    return client.register_script(_ADD_ONCE)


def marker_key(entry_id: str) -> str:
    """The Redis key that records that outbox entry ``entry_id`` has been added."""
    return redis_client.key("delta", entry_id)


def increment_on_commit(post_id: int, field: str, delta: int) -> None:
    """Add ``delta`` to ``post_id``'s ``field`` once the current transaction commits (written with it)."""
    if field not in counters.FIELDS:
        raise ValueError(f"unknown counter field {field!r}")
    outbox.add(KIND, {"post": int(post_id), "field": field, "delta": int(delta)})


def add_once(entry_id: str, payload: dict[str, Any]) -> bool:
    """The outbox's delivery: ``HINCRBY`` unless entry ``entry_id`` was added before; True if added now."""
    seconds = int(getattr(settings, "THREADS_COUNTER_DEDUPE_SECONDS", 86400))
    try:
        added = _script(redis_client.client())(
            keys=[marker_key(entry_id), counters.post_key(int(payload["post"]))],
            args=[payload["field"], int(payload["delta"]), seconds],
        )
    except REDIS_DOWN as exc:  # the outbox keeps the entry for a relay, as for a broker outage
        raise OperationalError(f"the counter store is unreachable: {exc}") from exc
    return bool(added)


outbox.register(KIND, add_once)


def waiting(post_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Deltas of ``post_ids`` still in the outbox (not yet in Redis), per post id."""
    from compat.contrib.django.models import OutboxEntry

    ids = [int(i) for i in post_ids]
    out: dict[int, dict[str, int]] = {}
    entries = OutboxEntry.objects.filter(kind=KIND, due_at__isnull=False, payload__post__in=ids)
    for payload in entries.values_list("payload", flat=True):
        fields = out.setdefault(int(payload["post"]), {})
        fields[payload["field"]] = fields.get(payload["field"], 0) + int(payload["delta"])
    return out


def counts(post_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """``counters.counts``; while Redis is down, the columns plus the deltas waiting in the outbox."""
    from threads.models import Post

    global _reads_degraded
    ids = list(dict.fromkeys(int(i) for i in post_ids))
    try:
        found = counters.counts(ids)
    except REDIS_DOWN as exc:
        if not _reads_degraded:
            log.warning("counters: Redis is unavailable (%s); showing database counts until it is back", exc)
        _reads_degraded = True
    else:
        if _reads_degraded:
            log.warning("counters: Redis is back; showing live counts again")
            _reads_degraded = False
        return found
    pending = waiting(ids)
    out = {}
    for post_id, *values in Post.objects.filter(pk__in=ids).values_list("pk", *counters.FIELDS):
        delta = pending.get(post_id, {})
        out[post_id] = {f: v + delta.get(f, 0) for f, v in zip(counters.FIELDS, values, strict=True)}
    return out


def drain() -> int:
    """Add every counter delta waiting in the outbox now; how many still wait afterwards (Redis is down).

    A recount must not run while deltas wait: it would count their rows, and then the deltas again.
    """
    from compat.contrib.django.models import OutboxEntry

    entries = OutboxEntry.objects.filter(kind=KIND, due_at__isnull=False)
    for pk, payload in list(entries.order_by("created_at").values_list("pk", "payload")):
        if not outbox.deliver_now(outbox.Pending(str(pk), KIND, payload)):
            break
    return entries.count()

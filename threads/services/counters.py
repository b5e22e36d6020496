"""Post counters: one atomic ``HINCRBY`` per like/unlike/comment on ``<prefix>post:<id>``, after commit.

The database columns (``Post.likes_count``, ``Post.comments_count``) lag behind by the deltas still in
Redis; reads show column + pending delta. ``flush()`` moves deltas into the columns. This module is the
seam for the counters issue: it may replace ``flush`` (and harden its claim) without touching callers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from threads.services import redis_client

log = logging.getLogger(__name__)

FIELDS = ("likes_count", "comments_count")


def post_key(post_id: int) -> str:
    """The Redis hash holding ``post_id``'s pending deltas."""
    return redis_client.key("post", post_id)


def increment(post_id: int, field: str, delta: int) -> int:
    """Add ``delta`` to the pending ``field`` of ``post_id`` (one round trip); returns the pending value."""
    if field not in FIELDS:
        raise ValueError(f"unknown counter field {field!r}")
    return int(redis_client.client().hincrby(post_key(post_id), field, delta))


def increment_on_commit(post_id: int, field: str, delta: int) -> None:
    """``increment`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: increment(post_id, field, delta))


def pending(post_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Pending deltas per post id (``{}`` for a post with none), in one pipelined round trip."""
    ids = list(dict.fromkeys(int(i) for i in post_ids))
    if not ids:
        return {}
    with redis_client.client().pipeline(transaction=False) as pipe:
        for post_id in ids:
            pipe.hgetall(post_key(post_id))
        rows = pipe.execute()
    return {
        post_id: {k.decode(): int(v) for k, v in row.items() if k.decode() in FIELDS}
        for post_id, row in zip(ids, rows, strict=True)
    }


def current(post, deltas: dict[int, dict[str, int]] | None = None) -> dict[str, int]:
    """``post``'s counters as users see them: database value + pending delta."""
    delta = (deltas if deltas is not None else pending([post.pk])).get(post.pk, {})
    return {field: getattr(post, field) + delta.get(field, 0) for field in FIELDS}


def _claim_prefix() -> str:
    return redis_client.key("claim")


def flush(batch: int = 1000) -> dict[str, int]:
    """Apply pending deltas to the database; returns {"posts": n, "claims": m}.

    Placeholder for the counters issue. Claim: ``RENAME`` of each dirty hash to a per-run key is
    atomic, so increments landing meanwhile go to a fresh hash and none is lost. The claimed deltas
    are applied in one transaction and the claim keys deleted only after commit; claims left by a run
    that died are picked up by the next. Runs must not overlap (the scheduler enqueues one at a time).
    Known gaps, for the counters issue: a run that dies after commit but before deleting its claims gets
    those deltas applied twice; and a read between claim and commit sees neither the pending delta nor
    the updated column, so a count dips for a moment.
    """
    client = redis_client.client()
    run = uuid.uuid4().hex[:12]
    claims: list[tuple[str, int]] = []
    for raw in client.scan_iter(match=_claim_prefix() + ":*", count=batch):  # left by a dead run
        name = raw.decode()
        claims.append((name, int(name.rsplit(":", 1)[1])))
    for raw in client.scan_iter(match=post_key("*"), count=batch):
        name = raw.decode()
        post_id = int(name.rsplit(":", 1)[1])
        claim = f"{_claim_prefix()}:{run}:{post_id}"
        try:
            client.rename(name, claim)
        except Exception:  # the key vanished (another flush took it): nothing to do
            continue
        claims.append((claim, post_id))
    if not claims:
        return {"posts": 0, "claims": 0}
    with client.pipeline(transaction=False) as pipe:
        for claim, _ in claims:
            pipe.hgetall(claim)
        rows = pipe.execute()
    totals: dict[int, dict[str, int]] = {}
    for (_, post_id), row in zip(claims, rows, strict=True):
        into = totals.setdefault(post_id, {})
        for k, v in row.items():
            if k.decode() in FIELDS:
                into[k.decode()] = into.get(k.decode(), 0) + int(v)
    from threads.models import Post

    with transaction.atomic():
        for post_id, deltas in totals.items():
            changes = {field: F(field) + delta for field, delta in deltas.items() if delta}
            if changes:
                Post.objects.filter(pk=post_id).update(**changes)
    client.delete(*[claim for claim, _ in claims])
    log.info("counters: flushed %d post(s) from %d claim(s)", len(totals), len(claims))
    return {"posts": len(totals), "claims": len(claims)}

"""The flush: claim pending deltas atomically, apply them in one transaction, release them after commit.

A lease in Redis keeps flushes from overlapping; a claim recorded in ``AppliedCounterClaim`` is never
applied twice (see the package docstring).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from threads.services import redis_client

from .keys import FIELDS, _claims_set, _lease_key, _script, _seq_key, claim_key, post_key

log = logging.getLogger("threads.services.counters")

LEASE_DROP_RETRY = 0.2  # seconds between attempts to drop a lease that Redis could not be reached to drop

UPDATE_CHUNK = 2000  # post ids per UPDATE statement
VALUES_CHUNK = 20000  # posts per UPDATE ... FROM unnest(...) statement (PostgreSQL)

# Moves the hashes named in ARGV[2], ARGV[4], ... (post ids in ARGV[3], ARGV[5], ...) into a new claim
# hash ARGV[1]..seq, atomically. KEYS: the seq counter, the set of claims. Returns {seq, hashes moved}.
_CLAIM = """
local seq = redis.call('INCR', KEYS[1])
local claim = ARGV[1] .. seq
local moved = 0
for i = 2, #ARGV, 2 do
  local flat = redis.call('HGETALL', ARGV[i])
  if #flat > 0 then
    for j = 1, #flat, 2 do
      redis.call('HINCRBY', claim, ARGV[i + 1] .. ':' .. flat[j], flat[j + 1])
    end
    redis.call('DEL', ARGV[i])
    moved = moved + 1
  end
end
if moved > 0 then redis.call('SADD', KEYS[2], seq) end
return {seq, moved}
"""

# Never let the seq counter fall below a seq already recorded in the database (a Redis that lost its
# data would otherwise hand out seqs that look applied).
_SEQ_FLOOR = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return redis.call('GET', KEYS[1]) or '0'
"""

_LEASE_DROP = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_LEASE_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)


def _take_lease(client: redis.Redis, seconds: float) -> str | None:
    token = uuid.uuid4().hex
    return token if client.set(_lease_key(), token, nx=True, px=max(1, int(seconds * 1000))) else None


def _wait_for_lease(client: redis.Redis, seconds: float, wait: float) -> str:
    deadline = time.monotonic() + wait
    while (token := _take_lease(client, seconds)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"a counter flush has held {_lease_key()} for over {wait:.0f}s")
        time.sleep(0.05)
    return token


def _lease_seconds(lease: float | None) -> float:
    return float(lease if lease is not None else getattr(settings, "THREADS_COUNTER_FLUSH_LEASE", 60))


def flush(batch: int = 1000, lease: float | None = None) -> dict[str, int]:
    """Apply every pending delta to the database exactly once; returns {"posts": n, "claims": m}.

    ``posts``: rows updated; ``claims``: (claim, post) deltas applied. ``skipped`` appears when claims
    left by a run that died after its commit were found already applied, ``busy`` when another flush
    holds the lease (``lease`` seconds, default ``THREADS_COUNTER_FLUSH_LEASE``, 60: runs do not
    overlap unless one outlives it, and even then nothing is applied twice).
    """
    client = redis_client.client()
    seconds = _lease_seconds(lease)
    token = _take_lease(client, seconds)
    if token is None:
        return {"posts": 0, "claims": 0, "busy": 1}
    try:
        return _flush(client, batch)
    finally:
        release_lease(client, token, seconds)


def release_lease(client: redis.Redis, token: str, seconds: float) -> None:
    """Drop our lease (``seconds`` long, from its last renewal); if Redis is unreachable, keep trying in
    the background until it is back or the lease has run out anyway.

    A flush or recount cut off by a Redis outage would otherwise leave its lease in a Redis that keeps
    its data, and every flush after the outage would find it busy, counters frozen, until the lease
    expired (``THREADS_COUNTER_FLUSH_LEASE``, a minute). The drop only deletes the lease if it is ours.
    """
    key, until = _lease_key(), time.monotonic() + seconds
    if _dropped(client, key, token):
        return
    log.warning("counters: could not drop the flush lease; dropping it once Redis is back")
    threading.Thread(
        target=_drop_when_back, args=(client, key, token, until), name="counter-lease-drop", daemon=True
    ).start()


def _dropped(client: redis.Redis, key: str, token: str) -> bool:
    try:
        _script(client, _LEASE_DROP)(keys=[key], args=[token])
    except redis_client.REDIS_DOWN:
        return False
    return True


def _drop_when_back(client: redis.Redis, key: str, token: str, until: float) -> None:
    while time.monotonic() < until:
        time.sleep(LEASE_DROP_RETRY)
        if _dropped(client, key, token):
            log.info("counters: dropped the flush lease left by a run that Redis went away during")
            return


def _flush(client: redis.Redis, batch: int) -> dict[str, int]:
    from threads.models import AppliedCounterClaim

    newest = AppliedCounterClaim.objects.aggregate(m=Max("seq"))["m"] or 0
    horizon = int(_script(client, _SEQ_FLOOR)(keys=[_seq_key()], args=[newest]))
    seqs = _leftovers(client, batch) + _claim_dirty(client, batch)
    if seqs:
        try:
            outcome = _apply(_load(client, seqs))
        except IntegrityError:  # an overlapping run recorded one of these claims first: it is applied
            log.warning("counters: claims %s were applied by an overlapping flush; released next run", seqs)
            return {"posts": 0, "claims": 0, "conflict": 1}
        _release(client, seqs)
    else:
        outcome = {"posts": 0, "claims": 0}
    _forget_applied(horizon)
    if seqs:
        log.info("counters: %s from claims %d..%d", outcome, min(seqs), max(seqs))
    return outcome


def _claim(client: redis.Redis, hashes: list[tuple[str, str]]) -> int | None:
    """Move ``hashes`` ((key, post id) pairs) into a new claim; its seq, or None if all were empty."""
    args = [claim_key("")] + [part for pair in hashes for part in pair]
    seq, moved = _script(client, _CLAIM)(keys=[_seq_key(), _claims_set()], args=args)
    return int(seq) if moved else None


def _leftovers(client: redis.Redis, batch: int) -> list[int]:
    """Claims left by runs that died; the placeholder's per-post claims are re-claimed first."""
    prefix = claim_key("")
    seqs, legacy = [], []
    for raw in client.scan_iter(match=prefix + "*", count=batch):
        rest = raw.decode()[len(prefix) :]
        if rest.isdigit():
            seqs.append(int(rest))
        elif rest.rsplit(":", 1)[-1].isdigit():  # claim:<run>:<post id>, from before claim seqs
            legacy.append((raw.decode(), rest.rsplit(":", 1)[-1]))
    for key_and_id in legacy:
        if (seq := _claim(client, [key_and_id])) is not None:
            seqs.append(seq)
    return sorted(set(seqs))


def _claim_dirty(client: redis.Redis, batch: int) -> list[int]:
    """Claim every dirty ``post:<id>`` hash (found with ``SCAN``), ``batch`` hashes per claim."""
    prefix, seqs, todo = post_key(""), [], []
    for raw in client.scan_iter(match=prefix + "*", count=batch):
        name = raw.decode()
        if name[len(prefix) :].isdigit():
            todo.append((name, name[len(prefix) :]))
        if len(todo) >= batch:
            seqs.append(_claim(client, todo))
            todo = []
    if todo:
        seqs.append(_claim(client, todo))
    return [seq for seq in seqs if seq is not None]


def _load(client: redis.Redis, seqs: list[int]) -> dict[int, dict[int, dict[str, int]]]:
    """The contents of claims ``seqs``: {seq: {post id: {counter: delta}}}."""
    with client.pipeline(transaction=False) as pipe:
        for seq in seqs:
            pipe.hgetall(claim_key(seq))
        rows = pipe.execute()
    claims: dict[int, dict[int, dict[str, int]]] = {}
    for seq, row in zip(seqs, rows, strict=True):
        posts = claims.setdefault(seq, {})
        for name, value in row.items():
            post_id, _, field = name.decode().partition(":")
            if field in FIELDS:
                posts.setdefault(int(post_id), {})[field] = int(value)
    return claims


def _apply(claims: dict[int, dict[int, dict[str, int]]]) -> dict[str, int]:
    """In one transaction: record the claims not yet applied and add their sums with ``F()`` updates."""
    from threads.models import AppliedCounterClaim, Post

    with transaction.atomic():
        done = set(AppliedCounterClaim.objects.filter(seq__in=list(claims)).values_list("seq", flat=True))
        fresh = {seq: posts for seq, posts in claims.items() if seq not in done}
        AppliedCounterClaim.objects.bulk_create(
            [AppliedCounterClaim(seq=seq, posts=len(posts)) for seq, posts in fresh.items()]
        )
        totals: dict[int, list[int]] = {}  # post id -> [delta per field..., newest claim]
        for seq, posts in fresh.items():
            for post_id, deltas in posts.items():
                total = totals.setdefault(post_id, [0] * len(FIELDS) + [0])
                for i, field in enumerate(FIELDS):
                    total[i] += deltas.get(field, 0)
                total[-1] = max(total[-1], seq)
        changed = {post_id: total for post_id, total in totals.items() if any(total[:-1])}
        if connection.vendor == "postgresql":
            updated = _apply_values(Post, changed)
        else:
            updated = _apply_grouped(Post, changed)
    outcome = {"posts": updated, "claims": sum(len(posts) for posts in fresh.values())}
    if done:
        outcome["skipped"] = len(done)
    return outcome


def _apply_grouped(post_model, totals: dict[int, list[int]]) -> int:
    """``F()`` updates, one per group of posts with the same deltas and newest claim."""
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for post_id, total in totals.items():
        groups[tuple(total)].append(post_id)
    updated = 0
    for (*deltas, newest), ids in groups.items():
        changes = {f: F(f) + d for f, d in zip(FIELDS, deltas, strict=True) if d}
        changes["counters_claim"] = Greatest(F("counters_claim"), Value(newest))
        for chunk in _chunks(sorted(ids), UPDATE_CHUNK):
            updated += post_model.objects.filter(pk__in=chunk).update(**changes)
    return updated


def _apply_values(post_model, totals: dict[int, list[int]]) -> int:
    """PostgreSQL: one ``UPDATE ... FROM unnest(arrays)`` per ``VALUES_CHUNK`` posts.

    The same additions as the ``F()`` path (``column = column + delta``, so concurrent changes are not
    lost), but a few statements with four array parameters each, instead of one statement per group of
    equal deltas.
    """
    quote = connection.ops.quote_name
    table = quote(post_model._meta.db_table)
    sets = ", ".join(f"{quote(f)} = p.{quote(f)} + v.d{i}" for i, f in enumerate(FIELDS))
    columns = ", ".join(f"d{i}" for i in range(len(FIELDS)))
    arrays = ", ".join(["%s::bigint[]"] + ["%s::integer[]"] * len(FIELDS) + ["%s::bigint[]"])
    updated = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(totals), VALUES_CHUNK):
            params = [chunk] + [[totals[i][n] for i in chunk] for n in range(len(FIELDS) + 1)]
            cursor.execute(
                f"UPDATE {table} AS p SET {sets}, counters_claim = GREATEST(p.counters_claim, v.claim) "
                f"FROM unnest({arrays}) AS v(id, {columns}, claim) WHERE p.id = v.id",
                params,
            )
            updated += cursor.rowcount
    return updated


def _release(client: redis.Redis, seqs: list[int]) -> None:
    """Delete applied claims (after commit), claim hashes and set members together."""
    with client.pipeline(transaction=True) as pipe:
        for chunk in _chunks(seqs, 1000):
            pipe.delete(*[claim_key(seq) for seq in chunk])
            pipe.srem(_claims_set(), *chunk)
        pipe.execute()


def _forget_applied(horizon: int) -> None:
    """Delete old ``AppliedCounterClaim`` rows that no claim in Redis can need again.

    A row may go once its claim is gone from Redis: every claim with seq <= ``horizon`` existed when this
    run began and has been released by now. The newest row always stays (``_SEQ_FLOOR`` reads it).
    """
    from threads.models import AppliedCounterClaim

    retention = float(getattr(settings, "THREADS_COUNTER_CLAIM_RETENTION", 3600))
    newest = AppliedCounterClaim.objects.aggregate(m=Max("seq"))["m"] or 0
    AppliedCounterClaim.objects.filter(
        seq__lte=horizon, seq__lt=newest, applied_at__lt=timezone.now() - timedelta(seconds=retention)
    ).delete()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""Post counters: Redis deltas, flushed exactly once into ``Post.likes_count`` / ``Post.comments_count``.

Keys (all under ``THREADS_REDIS_PREFIX``):

- ``post:<id>``: a hash of pending deltas. A like, unlike or comment does its row change, then (after
  commit) one ``HINCRBY`` here. Nothing locks the post row.
- ``claim:<seq>``: a flush claim. A Lua script moves a batch of ``post:<id>`` hashes into it (fields
  ``<id>:<counter>``) and takes ``seq`` from ``claim-seq`` (``INCR``) in the same atomic step. An
  increment that lands after that goes to a fresh ``post:<id>`` hash and waits for the next claim.
- ``claims``: the set of claim seqs that still exist, so readers find them without ``SCAN``.

The flush applies claims with batched additions (``F()`` updates; one ``UPDATE ... FROM unnest(...)`` per
20,000 posts on PostgreSQL) in one transaction. In the same transaction it
inserts an ``AppliedCounterClaim`` row per claim (``seq`` is unique) and sets ``Post.counters_claim``
to the newest claim applied to that post. Only after commit does it delete the claims. A flush that
dies before commit leaves its claims for the next run. A flush that dies after commit leaves claims
that the next run finds already recorded, so it deletes them without applying them again.

A reader reads Redis first: the live hashes, the claims, and the current ``seq``. It then reads the
columns and ``counters_claim`` from one database row. A claim ``s <= counters_claim`` is already in the
columns. If ``counters_claim`` is newer than the ``seq`` it read, a claim made after its Redis read has
been applied, and that claim holds all of the live delta it saw, so the columns alone are current.
Either way every delta is counted exactly once, during a flush as well (see docs/domain.md).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, IntegerField, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from threads.services import redis_client

log = logging.getLogger(__name__)

FIELDS = ("likes_count", "comments_count")
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

# For each post id in ARGV[4 + n ..]: the live deltas of the n fields ARGV[4 .. 3 + n], then
# (seq, deltas...) for every outstanding claim holding that post. '' marks an absent field.
# KEYS: the seq counter, the set of claims. ARGV[1]: post key prefix, ARGV[2]: claim key prefix.
_READ = """
local n = tonumber(ARGV[3])
local fields = {}
for j = 1, n do fields[j] = ARGV[3 + j] end
local seqs = redis.call('SMEMBERS', KEYS[2])
local out = {redis.call('GET', KEYS[1]) or '0'}
for i = 4 + n, #ARGV do
  local id = ARGV[i]
  local live = redis.call('HMGET', ARGV[1] .. id, unpack(fields))
  local row = {}
  for j = 1, n do row[j] = live[j] or '' end
  local names = {}
  for j = 1, n do names[j] = id .. ':' .. fields[j] end
  for _, s in ipairs(seqs) do
    local got = redis.call('HMGET', ARGV[2] .. s, unpack(names))
    local any = false
    for j = 1, n do if got[j] then any = true end end
    if any then
      row[#row + 1] = s
      for j = 1, n do row[#row + 1] = got[j] or '' end
    end
  end
  out[#out + 1] = row
end
return out
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


def post_key(post_id: int | str) -> str:
    """The Redis hash holding ``post_id``'s pending deltas."""
    return redis_client.key("post", post_id)


def claim_key(seq: int | str) -> str:
    """The Redis hash of claim ``seq`` (fields ``<post id>:<counter>``)."""
    return redis_client.key("claim", seq)


def _claims_set() -> str:
    return redis_client.key("claims")


def _seq_key() -> str:
    return redis_client.key("claim-seq")


def _lease_key() -> str:
    return redis_client.key("counters-lease")


@functools.lru_cache(maxsize=64)
def _script(client: redis.Redis, text: str):
    return client.register_script(text)


# --- writes --------------------------------------------------------------------------------------------


def increment(post_id: int, field: str, delta: int) -> int:
    """Add ``delta`` to the pending ``field`` of ``post_id`` (one round trip); returns the live delta."""
    if field not in FIELDS:
        raise ValueError(f"unknown counter field {field!r}")
    return int(redis_client.client().hincrby(post_key(post_id), field, delta))


def increment_on_commit(post_id: int, field: str, delta: int) -> None:
    """``increment`` once the current transaction commits (at once outside a transaction)."""
    if field not in FIELDS:
        raise ValueError(f"unknown counter field {field!r}")
    transaction.on_commit(lambda: increment(post_id, field, delta))


# --- reads ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisState:
    """What Redis held for some posts at one instant: the claim seq, live deltas, unreleased claims."""

    seq: int
    live: dict[int, dict[str, int]]
    claims: dict[int, list[tuple[int, dict[str, int]]]]

    def unapplied(self, post_id: int, applied: int) -> dict[str, int]:
        """The deltas of ``post_id`` not yet in its columns, given its ``counters_claim`` ``applied``."""
        if applied > self.seq:  # a claim made after this read is applied: it took every live delta seen
            return {}
        out = dict(self.live.get(post_id, {}))
        for seq, deltas in self.claims.get(post_id, []):
            if seq > applied:
                for field, value in deltas.items():
                    out[field] = out.get(field, 0) + value
        return out


def _fields(values: list[bytes]) -> dict[str, int]:
    return {field: int(value) for field, value in zip(FIELDS, values, strict=True) if value != b""}


def read_redis(post_ids: Iterable[int]) -> RedisState:
    """Live deltas and claims of ``post_ids``, read atomically in one round trip (a Lua script)."""
    ids = list(dict.fromkeys(int(i) for i in post_ids))
    client = redis_client.client()
    raw = _script(client, _READ)(
        keys=[_seq_key(), _claims_set()],
        args=[post_key(""), claim_key(""), len(FIELDS), *FIELDS, *ids],
    )
    n = len(FIELDS)
    live, claims = {}, {}
    for post_id, row in zip(ids, raw[1:], strict=True):
        if found := _fields(row[:n]):
            live[post_id] = found
        rest = row[n:]
        for i in range(0, len(rest), n + 1):
            claims.setdefault(post_id, []).append((int(rest[i]), _fields(rest[i + 1 : i + 1 + n])))
    return RedisState(int(raw[0]), live, claims)


def _columns(post_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    from threads.models import Post

    rows = Post.objects.filter(pk__in=post_ids).values_list("pk", *FIELDS, "counters_claim")
    return {row[0]: row[1:] for row in rows}


def counts(post_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Counters as users see them (column + every delta not yet in it), exact even during a flush.

    One Redis round trip, then one query; posts that do not exist are left out.
    """
    ids = list(dict.fromkeys(int(i) for i in post_ids))
    if not ids:
        return {}
    state = read_redis(ids)  # Redis first, the row second: see the module docstring
    out = {}
    for post_id, (*values, applied) in _columns(ids).items():
        delta = state.unapplied(post_id, applied)
        out[post_id] = {f: v + delta.get(f, 0) for f, v in zip(FIELDS, values, strict=True)}
    return out


def pending(post_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Deltas not yet in the columns, per post id (``{}`` for none); includes unapplied claims."""
    ids = list(dict.fromkeys(int(i) for i in post_ids))
    if not ids:
        return {}
    state = read_redis(ids)
    columns = _columns(ids)
    return {i: state.unapplied(i, columns[i][-1] if i in columns else 0) for i in ids}


def current(post, deltas: dict[int, dict[str, int]] | None = None) -> dict[str, int]:
    """``post``'s counters as users see them; with ``deltas`` (from ``pending``), its columns + those."""
    if deltas is None:
        found = counts([post.pk]).get(post.pk)
        if found is not None:
            return found
        deltas = {}
    delta = deltas.get(post.pk, {})
    return {field: getattr(post, field) + delta.get(field, 0) for field in FIELDS}


# --- the flush -----------------------------------------------------------------------------------------


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
    token = _take_lease(client, _lease_seconds(lease))
    if token is None:
        return {"posts": 0, "claims": 0, "busy": 1}
    try:
        return _flush(client, batch)
    finally:
        _script(client, _LEASE_DROP)(keys=[_lease_key()], args=[token])


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


# --- reconciliation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """A counter that did not match its rows: what users saw, and the row count it now shows."""

    post_id: int
    field: str
    shown: int
    actual: int


def recount(post_ids: Iterable[int] | None = None, chunk: int = 500, dry_run: bool = False) -> list[Drift]:
    """Recompute counters from rows (all posts, or ``post_ids``), fix drift, and return what was off.

    Holds the flush lease throughout (waiting for a running flush) and applies outstanding claims
    first, so only live deltas remain; each column becomes rows - live delta. A like or comment whose
    row has committed but whose ``HINCRBY`` has not yet run when its post is recounted is counted
    twice, so run it when writes to those posts are quiet, or run it again.
    """
    from threads.models import Comment, Like, Post

    client = redis_client.client()
    seconds = _lease_seconds(None)
    token = _wait_for_lease(client, seconds, wait=seconds + 5)
    try:
        _flush(client, 1000)
        ids = Post.objects.order_by("pk").values_list("pk", flat=True)
        if post_ids is not None:
            ids = ids.filter(pk__in=[int(i) for i in post_ids])
        found: list[Drift] = []
        for part in _chunks(list(ids), chunk):
            _script(client, _LEASE_RENEW)(keys=[_lease_key()], args=[token, int(seconds * 1000)])
            found += _recount_chunk(part, dry_run, Comment, Like, Post)
        return found
    finally:
        _script(client, _LEASE_DROP)(keys=[_lease_key()], args=[token])


def _row_count(model, field: str = "post"):
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk"))
    return Coalesce(Subquery(rows.values("n"), output_field=IntegerField()), 0)


def _recount_chunk(ids: list[int], dry_run: bool, Comment, Like, Post) -> list[Drift]:  # noqa: N803
    state = read_redis(ids)  # Redis first (as readers do): a counted delta's row is already committed
    found = []
    with transaction.atomic():
        rows = Post.objects.filter(pk__in=ids).annotate(
            actual_likes_count=_row_count(Like), actual_comments_count=_row_count(Comment)
        )
        for post in rows.only("pk", *FIELDS, "counters_claim"):
            delta = state.unapplied(post.pk, post.counters_claim)
            fix = {}
            for field in FIELDS:
                shown, actual = getattr(post, field) + delta.get(field, 0), getattr(post, f"actual_{field}")
                if shown != actual:
                    found.append(Drift(post.pk, field, shown, actual))
                    fix[field] = actual - delta.get(field, 0)
            if fix and not dry_run:
                Post.objects.filter(pk=post.pk).update(**fix)
    return found

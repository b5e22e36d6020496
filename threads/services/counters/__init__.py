"""Post counters: Redis deltas, flushed exactly once into ``Post.likes_count`` / ``Post.comments_count``.

One module per concern: ``keys`` (the Redis keys and increments), ``reads`` (exact reads), ``flushing``
(claims applied to the database) and ``recounting`` (reconciliation from rows). Import from here:
``from threads.services.counters import increment, counts, flush, recount``.

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

from .flushing import (
    _CLAIM,
    _LEASE_DROP,
    _LEASE_RENEW,
    _SEQ_FLOOR,
    UPDATE_CHUNK,
    VALUES_CHUNK,
    _apply,
    _apply_grouped,
    _apply_values,
    _chunks,
    _claim,
    _claim_dirty,
    _flush,
    _forget_applied,
    _lease_seconds,
    _leftovers,
    _load,
    _release,
    _take_lease,
    _wait_for_lease,
    flush,
    log,
)
from .keys import (
    FIELDS,
    _claims_set,
    _lease_key,
    _script,
    _seq_key,
    claim_key,
    increment,
    increment_on_commit,
    post_key,
)
from .reads import _READ, RedisState, _columns, _fields, counts, current, pending, read_redis
from .recounting import Drift, _recount_chunk, _row_count, recount

__all__ = [
    "FIELDS",
    "UPDATE_CHUNK",
    "VALUES_CHUNK",
    "Drift",
    "RedisState",
    "claim_key",
    "counts",
    "current",
    "flush",
    "increment",
    "increment_on_commit",
    "pending",
    "post_key",
    "read_redis",
    "recount",
]
# The private names above stay importable from here for the tests that drive a flush step by step.
_REEXPORTED = (
    _CLAIM, _LEASE_DROP, _LEASE_RENEW, _SEQ_FLOOR, _READ, _apply, _apply_grouped, _apply_values,
    _chunks, _claim, _claim_dirty, _flush, _forget_applied, _leftovers, _lease_seconds, _load,
    _release, _take_lease, _wait_for_lease, _claims_set, _lease_key, _script, _seq_key, _columns,
    _fields, _recount_chunk, _row_count, log,
)

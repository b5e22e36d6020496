"""Reading counters exactly: Redis first (live deltas and unapplied claims, atomically), the row second.

Why that order makes every delta count once, also during a flush, is in the package docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from threads.services import redis_client

from .keys import FIELDS, _claims_set, _script, _seq_key, claim_key, post_key

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

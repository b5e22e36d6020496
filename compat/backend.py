"""The result and state store: one record per task id, written by worker middleware, read by results.

Records are Celery-shaped dicts (``status``, ``result``, ``traceback``, ``children``, ``date_done`` and, with
``result_extended``, ``name/args/kwargs/worker/retries/queue``). A ready state (SUCCESS, FAILURE, REVOKED) is
final: a late or duplicate write never moves a task backwards. Completion is published so that
``AsyncResult.get()`` wakes at once instead of polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis

from . import serialization
from .exceptions import TimeoutError

READY = ("SUCCESS", "FAILURE", "REVOKED")

#: Writes a state record unless the stored one is ready (``force`` overrides), and publishes ready
#: states. KEYS: meta, done channel. ARGV: record, ttl ms, 'force' or '', '1' when ready, status.
_WRITE_STATE = """
local written = 1
if ARGV[3] ~= 'force' then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, doc = pcall(cjson.decode, current)
    if ok and (doc.status == 'SUCCESS' or doc.status == 'FAILURE' or doc.status == 'REVOKED') then
      written = 0
    end
  end
end
if written == 1 then
  if tonumber(ARGV[2]) > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[1])
  end
  if ARGV[4] == '1' then redis.call('PUBLISH', KEYS[2], ARGV[5]) end
end
"""

_SET_STATE = _WRITE_STATE + "return written\n"

_BARRIER = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  if redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[3]) then return 1 end
end
return 0
"""

#: A chord header member's state write and its barrier in one call. KEYS: meta, done channel, barrier set,
#: fired key, group record. ARGV: the five of ``_SET_STATE``, then member, size, ttl, claimant, meta key
#: prefix. Returns ``{0}`` while the chord is incomplete; the one member that completes it gets
#: ``{1, group record, meta of member 1, ...}`` (metas only when the record reads as expected).
_SET_STATE_JOIN = (
    _WRITE_STATE
    + """
redis.call('SADD', KEYS[3], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[8])
if redis.call('SCARD', KEYS[3]) < tonumber(ARGV[7]) then return {0} end
if not redis.call('SET', KEYS[4], ARGV[9], 'NX', 'PX', ARGV[8]) then return {0} end
local raw = redis.call('GET', KEYS[5])
if not raw then return {1, false} end
local ok, doc = pcall(cjson.decode, raw)
if not ok or type(doc[2]) ~= 'table' then return {1, raw} end
local keys = {}
for i, node in ipairs(doc[2]) do
  if type(node[1]) ~= 'table' or type(node[1][1]) ~= 'string' then return {1, raw} end
  keys[i] = ARGV[10] .. node[1][1]
end
local out = {1, raw}
for first = 1, #keys, 500 do
  local values = redis.call('MGET', unpack(keys, first, math.min(first + 499, #keys)))
  for j = 1, #values do out[#out + 1] = values[j] end
end
return out
"""
)


def encode_meta(meta: dict[str, Any], result_json: str | None = None) -> str:
    """JSON of a state record, with ``result_json`` as its ``result`` when given."""
    if result_json is None:
        return serialization.dumps(meta)
    rest = {key: value for key, value in meta.items() if key != "result"}
    return serialization.dumps(rest)[:-1] + ',"result":' + result_json + "}"


#: A completed chord's header: its task ids and their state records, in header order.
ChordHeader = tuple[list[str], list[dict[str, Any] | None]]


def member_key(chord: dict[str, Any], task_id: str) -> str:
    """How a header member is counted in its chord's barrier (its index, so a retry counts once)."""
    return str(chord.get("index", task_id))


def header_ids(stored: Any) -> list[str]:
    """The member task ids of a saved group record (``GroupResult.as_tuple()``)."""
    return [node[0][0] for node in stored[1]] if stored else []


def join_chord(store: Any, chord: dict[str, Any], task_id: str) -> ChordHeader | None:
    """Count a succeeded header member in its chord's barrier.

    Returns None unless this member completes the chord; exactly one member gets the header's task ids
    and state records, also when members finish at once on different workers or are redelivered.
    """
    if not store.barrier(chord["id"], member_key(chord, task_id), chord["size"], task_id):
        return None
    member_ids = header_ids(store.restore_group(chord["id"]))
    return member_ids, store.get_many(member_ids)


class DisabledStore:
    """No result backend configured: states are not stored, and reading them says so."""

    enabled = False

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "No result backend is configured. Please see the documentation for more information."
        )

    get_meta = get_many = wait = save_group = restore_group = _refuse

    def set_state(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def forget(self, task_id: str) -> None:
        return None

    def revoke(self, task_ids: Iterable[str]) -> None:
        return None

    def revoked_since(self, since: float) -> list[str]:
        return []

    def follow_revocations(self, on_revoke: Callable[[str], None]) -> None:
        return None


class RedisStore:
    """State records in Redis under ``<namespace>:meta:<id>``, with TTL ``result_expires``."""

    enabled = True

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        namespace: str = "compat",
        expires: float | None = 86400,
    ) -> None:
        self.client = client or redis.Redis.from_url(url)
        self.namespace = namespace
        self.expires_ms = int(expires * 1000) if expires else 0
        self._set_state = self.client.register_script(_SET_STATE)
        self._barrier = self.client.register_script(_BARRIER)
        self._set_state_join = self.client.register_script(_SET_STATE_JOIN)

    # -- keys --------------------------------------------------------------------------------------
    def meta_key(self, task_id: str) -> str:
        return f"{self.namespace}:meta:{task_id}"

    def done_channel(self, task_id: str) -> str:
        return f"{self.namespace}:done:{task_id}"

    @property
    def revoked_key(self) -> str:
        return f"{self.namespace}:revoked"

    @property
    def revoke_channel(self) -> str:
        return f"{self.namespace}:revoke"

    # -- records -----------------------------------------------------------------------------------
    def set_state(
        self, task_id: str, meta: dict[str, Any], *, force: bool = False, result_json: str | None = None
    ) -> bool:
        """Store ``meta`` unless the task is already in a ready state (``force`` overrides).

        ``result_json`` is the already-encoded result, spliced in so that a large result is encoded once.
        """
        keys, args = self._state_write(task_id, meta, result_json, force)
        return bool(self._set_state(keys=keys, args=args))

    def _state_write(
        self, task_id: str, meta: dict[str, Any], result_json: str | None, force: bool
    ) -> tuple[list, list]:
        """KEYS and ARGV of ``_WRITE_STATE`` (the start of both state scripts)."""
        status = meta["status"]
        return (
            [self.meta_key(task_id), self.done_channel(task_id)],
            [
                encode_meta(meta, result_json),
                self.expires_ms,
                "force" if force else "",
                "1" if status in READY else "0",
                status,
            ],
        )

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        raw = self.client.get(self.meta_key(task_id))
        return serialization.loads(raw) if raw else None

    def get_many(self, task_ids: list[str]) -> list[dict[str, Any] | None]:
        if not task_ids:
            return []
        raws = self.client.mget([self.meta_key(task_id) for task_id in task_ids])
        return [serialization.loads(raw) if raw else None for raw in raws]

    def forget(self, task_id: str) -> None:
        self.client.delete(self.meta_key(task_id))

    def wait(
        self, task_ids: list[str], timeout: float | None = None, interval: float = 1.0
    ) -> list[dict[str, Any]]:
        """Block until every task is ready; wake on the completion message, re-check every ``interval``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        metas = self.get_many(task_ids)
        if all(meta and meta["status"] in READY for meta in metas):
            return metas  # type: ignore[return-value]
        pubsub = self.client.pubsub()
        try:
            channels = [self.done_channel(task_id) for task_id in task_ids]
            pubsub.subscribe(*channels)
            _await_subscriptions(pubsub, len(set(channels)), deadline)
            while True:
                metas = self.get_many(task_ids)
                if all(meta and meta["status"] in READY for meta in metas):
                    return metas  # type: ignore[return-value]
                wait_for = interval if deadline is None else min(interval, deadline - time.monotonic())
                if wait_for <= 0:
                    raise TimeoutError("The operation timed out.")
                pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_for)
        finally:
            pubsub.close()

    # -- groups and chords -------------------------------------------------------------------------
    def _group_key(self, group_id: str) -> str:
        return f"{self.namespace}:group:{group_id}"

    def _chord_keys(self, group_id: str) -> list[str]:
        """The chord's barrier set (members done) and its fired flag (the one claimant)."""
        return [f"{self.namespace}:chord:{group_id}:done", f"{self.namespace}:chord:{group_id}:fired"]

    @property
    def _chord_ttl(self) -> int:
        return self.expires_ms or 86400000

    def save_group(self, group_id: str, value: Any) -> None:
        self.client.set(self._group_key(group_id), serialization.dumps(value), px=self.expires_ms or None)

    def restore_group(self, group_id: str) -> Any:
        raw = self.client.get(self._group_key(group_id))
        return serialization.loads(raw) if raw else None

    def delete_group(self, group_id: str) -> None:
        self.client.delete(self._group_key(group_id))

    def barrier(self, group_id: str, member: str, size: int, claimant: str) -> bool:
        """Record ``member`` as done; True for exactly one caller, once all ``size`` members are done."""
        keys = self._chord_keys(group_id)
        return bool(self._barrier(keys=keys, args=[member, size, self._chord_ttl, claimant]))

    def set_state_joining(
        self, task_id: str, meta: dict[str, Any], chord: dict[str, Any], *, result_json: str | None = None
    ) -> ChordHeader | None:
        """``set_state`` for a chord header member, and ``join_chord``, in one round trip."""
        keys, args = self._state_write(task_id, meta, result_json, force=False)
        out = self._set_state_join(
            keys=[*keys, *self._chord_keys(chord["id"]), self._group_key(chord["id"])],
            args=[
                *args,
                member_key(chord, task_id),
                chord["size"],
                self._chord_ttl,
                task_id,
                self.meta_key(""),
            ],
        )
        if not out[0]:
            return None
        member_ids = header_ids(serialization.loads(out[1]) if out[1] else None)
        raws = out[2:]
        if len(raws) != len(member_ids):  # the record was not in the shape the script reads
            return member_ids, self.get_many(member_ids)
        return member_ids, [serialization.loads(raw) if raw else None for raw in raws]

    def claim(self, group_id: str, claimant: str) -> bool:
        """Claim a chord's outcome without waiting for the barrier (a header member failed)."""
        fired = self._chord_keys(group_id)[1]
        return bool(self.client.set(fired, claimant, nx=True, px=self._chord_ttl))

    # -- revocation --------------------------------------------------------------------------------
    def revoke(self, task_ids: Iterable[str]) -> None:
        ids = list(task_ids)
        now = time.time()
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self.revoked_key, {task_id: now for task_id in ids})
            for task_id in ids:
                pipe.publish(self.revoke_channel, task_id)
            pipe.execute()

    def revoked_since(self, since: float) -> list[str]:
        self.client.zremrangebyscore(self.revoked_key, "-inf", since)
        return [raw.decode() for raw in self.client.zrange(self.revoked_key, 0, -1)]

    def follow_revocations(self, on_revoke: Callable[[str], None]) -> None:
        """Call ``on_revoke(task_id)`` for each revocation broadcast from now on (a daemon thread)."""
        thread = threading.Thread(
            target=self._follow, args=(on_revoke,), name="compat-revocations", daemon=True
        )
        thread.start()

    def _follow(self, on_revoke: Callable[[str], None]) -> None:
        while True:
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.revoke_channel)
                for item in pubsub.listen():
                    if item and item.get("type") == "message":
                        on_revoke(item["data"].decode())
            except Exception:  # reconnect after an outage
                time.sleep(1.0)


def _await_subscriptions(pubsub: Any, count: int, deadline: float | None) -> None:
    """Read subscribe confirmations so a completion published after this point cannot be missed."""
    confirmed = 0
    while confirmed < count:
        remaining = 5.0 if deadline is None else max(0.0, deadline - time.monotonic())
        message = pubsub.get_message(timeout=remaining)
        if message is None:
            if deadline is not None and time.monotonic() >= deadline:
                return
            continue
        if message["type"] == "subscribe":
            confirmed = max(confirmed, int(message["data"]))


def store_from_url(url: str | None, *, namespace: str, expires: float | None) -> Any:
    """Pick the store for a ``result_backend`` URL."""
    if not url:
        return DisabledStore()
    if url.startswith(("cache+memory://", "memory://")):
        from .memory_store import MemoryStore

        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, namespace=namespace, expires=expires)
    from .exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"Unsupported result backend {url!r}: use redis://, rediss:// or cache+memory://"
    )

"""The result store on Redis: records under ``<namespace>:meta:<id>`` with TTL ``result_expires``.

One script call per state write (``write_state.lua``); a chord header member's write also counts it in the
chord's barrier in that same call (``set_state_join.lua``), and a worker's write may acknowledge the
message in that same call when the broker shares this Redis (``set_state_acking``). Ready states are
published on ``<namespace>:done:<id>`` (the record itself, up to 64 KiB; its status beyond); revocations
are a sorted set plus a broadcast channel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import redis

from .. import serialization
from ..exceptions import DecodeError, TimeoutError
from .chord import ChordHeader, header_ids, member_key
from .store import READY, encode_meta
from .subscriptions import Subscriptions
from .writer import StateWriter


@cache
def _lua(*names: str) -> str:
    """The source of ``<name>.lua`` files beside this module, joined (read once per process)."""
    return "".join(resources.files(__package__).joinpath(f"{name}.lua").read_text("utf-8") for name in names)


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
        self._set_state = self.client.register_script(_lua("write_state", "set_state"))
        self._barrier = self.client.register_script(_lua("barrier"))
        self._set_state_join = self.client.register_script(_lua("write_state", "set_state_join"))
        self._claim_delivery = self.client.register_script(_lua("claim_delivery"))
        self._subscriptions = Subscriptions(self.client)
        self._acking: dict[str, Any] = {}  # the state write followed by a broker's acknowledgement
        self._writer: StateWriter | None = None
        self._writer_lock = threading.Lock()

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

    def inline_ack(self, broker: Any, message: Any) -> Any:
        """The broker's acknowledgement of ``message`` for ``set_state_acking``, or None when the broker
        cannot acknowledge in this store's scripts (another kind of broker, another Redis)."""
        make = getattr(broker, "inline_ack", None)
        return make(message, self.client) if make is not None else None

    def set_state_acking(
        self,
        task_id: str,
        meta: dict[str, Any],
        ack: Any,
        *,
        result_json: str | None = None,
        defer: bool = False,
    ) -> bool:
        """``set_state``, then the delivered message's acknowledgement in the same script call.

        ``ack`` is the broker's ``InlineAck`` for this store's client (``inline_ack``): the Lua to run after
        the write, its keys and arguments. The record is stored and the message acknowledged together, or
        neither is; the acknowledgement runs whether or not the write was refused (a ready state is final).
        ``defer``: the call goes to this process's writer thread (``writer.py``) and this returns at once
        (True: whether the write was refused is not known yet).
        """
        keys, args = self._state_write(task_id, meta, result_json, False)
        script = self._acking.get(ack.lua)
        if script is None:
            script = self._acking[ack.lua] = self.client.register_script(
                _lua("write_state") + ack.lua + _lua("set_state")
            )
        if defer:
            ack.done()  # the consumer only frees the prefetch slot; the write below acknowledges it
            self.writer().submit(script, [*keys, *ack.keys], [*args, *ack.args])
            return True
        written = bool(script(keys=[*keys, *ack.keys], args=[*args, *ack.args]))
        ack.done()
        return written

    def writer(self) -> StateWriter:
        """This process's writer thread of deferred acknowledging writes, started on first use."""
        writer = self._writer
        if writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = StateWriter(self.client)
                writer = self._writer
        return writer

    def stop_writer(self) -> None:
        """Send the deferred writes still waiting and end the writer thread (a worker's shutdown)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()

    def _state_write(
        self, task_id: str, meta: dict[str, Any], result_json: str | None, force: bool
    ) -> tuple[list, list]:
        """KEYS and ARGV of ``write_state.lua`` (the start of both state scripts)."""
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
        """Block until every task is ready; wake on the completion message, re-check every ``interval``.

        A completion message carries the ready record itself (``write_state.lua``), which is taken as
        read; one that carries only a status (a record over 64 KiB, or a worker of an earlier release)
        has the record read back.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        ready = self._ready(task_ids, {})
        if len(ready) == len(set(task_ids)):
            return [ready[task_id] for task_id in task_ids]
        by_channel = {self.done_channel(task_id): task_id for task_id in task_ids}
        with self._subscriptions.subscribed(list(by_channel), deadline) as pubsub:
            unread = [task_id for task_id in by_channel.values() if task_id not in ready]
            while True:
                self._ready(unread, ready)
                if len(ready) == len(by_channel):
                    return [ready[task_id] for task_id in task_ids]
                wait_for = interval if deadline is None else min(interval, deadline - time.monotonic())
                if wait_for <= 0:
                    raise TimeoutError("The operation timed out.")
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_for)
                unread = self._take_published(message, by_channel, ready)

    def _ready(self, task_ids: list[str], ready: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Read ``task_ids``' records into ``ready``, those in a ready state."""
        for task_id, meta in zip(task_ids, self.get_many(task_ids), strict=True):
            if meta and meta["status"] in READY:
                ready[task_id] = meta
        return ready

    def _take_published(
        self, message: dict[str, Any] | None, by_channel: dict[str, str], ready: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Take a completion message's record into ``ready``; returns the ids still to read back (every
        one not ready when no message came: the ``interval`` re-check)."""
        if message is None:
            return [task_id for task_id in by_channel.values() if task_id not in ready]
        task_id = by_channel.get(_text(message["channel"]))
        if task_id is None:
            return []  # a late message on a channel an earlier wait of this thread listened on
        data = _text(message["data"])
        try:
            meta = serialization.loads(data) if data.startswith("{") else None
        except DecodeError:
            meta = None  # not a record after all: the stored one is read instead
        if isinstance(meta, dict) and meta.get("status") in READY:
            ready[task_id] = meta
            return []
        return [task_id]

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
        """Record ``member`` as done; True for exactly one claimant (each time it asks), once all ``size``
        members are done."""
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
        """Claim a chord's outcome without waiting for the barrier (a header member failed); True again
        for the same claimant (redelivered before it finished)."""
        fired = self._chord_keys(group_id)[1]
        if self.client.set(fired, claimant, nx=True, px=self._chord_ttl):
            return True
        return self.client.get(fired) == claimant.encode()

    def claim_delivery(self, task_id: str, token: str) -> bool:
        """Whether the send ``token`` of ``task_id``'s message is the one to run: the first send seen
        wins, and a redelivery of it still runs; another send of the same task (a chord body sent again
        by a redelivered header member) does not."""
        key = f"{self.namespace}:sent:{task_id}"
        return bool(self._claim_delivery(keys=[key], args=[token, self._chord_ttl]))

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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


"""The in-process state store for ``cache+memory://`` and tests without Redis: ``RedisStore``'s semantics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .. import serialization
from ..exceptions import TimeoutError
from .chord import ChordHeader, join_chord
from .store import READY, encode_meta


class MemoryStore:
    """In-process store for ``cache+memory://`` and tests without Redis; same semantics as RedisStore."""

    enabled = True

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        self.barriers: dict[str, set[str]] = {}
        self.claims: dict[str, str] = {}  # chord id -> the member that claimed its outcome
        self.deliveries: dict[str, str] = {}  # task id -> the send token that runs (claim_delivery)
        self.revoked: dict[str, float] = {}
        self.revocation_listeners: list[Callable[[str], None]] = []
        self.changed = threading.Condition()

    def set_state(
        self, task_id: str, meta: dict[str, Any], *, force: bool = False, result_json: str | None = None
    ) -> bool:
        with self.changed:
            current = self.records.get(task_id)
            if current and not force and serialization.loads(current)["status"] in READY:
                return False
            self.records[task_id] = encode_meta(meta, result_json)
            self.changed.notify_all()
            return True

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        raw = self.records.get(task_id)
        return serialization.loads(raw) if raw else None

    def get_many(self, task_ids: list[str]) -> list[dict[str, Any] | None]:
        return [self.get_meta(task_id) for task_id in task_ids]

    def forget(self, task_id: str) -> None:
        self.records.pop(task_id, None)

    def wait(
        self, task_ids: list[str], timeout: float | None = None, interval: float = 1.0
    ) -> list[dict[str, Any]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while True:
                metas = self.get_many(task_ids)
                if all(meta and meta["status"] in READY for meta in metas):
                    return metas  # type: ignore[return-value]
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("The operation timed out.")
                self.changed.wait(remaining if remaining is not None else interval)

    def save_group(self, group_id: str, value: Any) -> None:
        self.groups[group_id] = serialization.dumps(value)

    def restore_group(self, group_id: str) -> Any:
        raw = self.groups.get(group_id)
        return serialization.loads(raw) if raw else None

    def delete_group(self, group_id: str) -> None:
        self.groups.pop(group_id, None)

    def barrier(self, group_id: str, member: str, size: int, claimant: str) -> bool:
        with self.changed:
            done = self.barriers.setdefault(group_id, set())
            done.add(member)
            if len(done) < size:
                return False
            return self.claims.setdefault(group_id, claimant) == claimant

    def set_state_joining(
        self, task_id: str, meta: dict[str, Any], chord: dict[str, Any], *, result_json: str | None = None
    ) -> ChordHeader | None:
        self.set_state(task_id, meta, result_json=result_json)
        return join_chord(self, chord, task_id)

    def claim(self, group_id: str, claimant: str) -> bool:
        with self.changed:
            return self.claims.setdefault(group_id, claimant) == claimant

    def claim_delivery(self, task_id: str, token: str) -> bool:
        with self.changed:
            return self.deliveries.setdefault(task_id, token) == token

    def revoke(self, task_ids: Iterable[str]) -> None:
        for task_id in task_ids:
            self.revoked[task_id] = time.time()
            for listener in list(self.revocation_listeners):
                listener(task_id)

    def revoked_since(self, since: float) -> list[str]:
        return [task_id for task_id, when in self.revoked.items() if when > since]

    def follow_revocations(self, on_revoke: Callable[[str], None]) -> None:
        """Call ``on_revoke(task_id)`` for each later ``revoke`` (in this process, as it happens)."""
        self.revocation_listeners.append(on_revoke)

"""``result_backend = "django-cache"``: state records in a Django cache (``cache_backend`` names it).

Keys are Celery's key-value layout (``celery-task-meta-<id>``, ``celery-taskset-meta-<group id>``), each
stored with a timeout of ``result_expires``; the value is the state record (a dict, as Celery's own cache
backend keeps it). A chord header member marks itself done under ``chord-done-<group id>-<index>`` and,
once every index is marked, ``cache.add`` of ``chord-fired-<group id>`` elects the one member that sends
the body (elected again when it is redelivered, since it may have died before sending), and
``chord-sent-<body id>`` keeps the one send of the body that runs: ``add`` is atomic on Redis, Memcached,
the database and local-memory caches, so the body runs once. The ready-state rule (a late write never
moves a task back) is a read then a write here, not one atomic step. Revocations go where ``django-db``
sends them (``revocations.py``); ``get()`` polls.
"""

from __future__ import annotations

from typing import Any

from compat import serialization
from compat.results.chord import ChordHeader, join_chord
from compat.results.store import READY, encode_meta, poll_until_ready

from .revocations import Revocations


class CacheStore:
    """The result store protocol on ``django.core.cache.caches[cache_backend or "default"]``."""

    enabled = True

    def __init__(self, app: Any = None, expires: float | None = 86400) -> None:
        self.app = app
        self.timeout = float(expires) if expires else None
        self.revocations = Revocations(app, lambda since: [])

    @property
    def cache(self) -> Any:
        from django.core.cache import caches

        alias = self.app.conf.get("cache_backend") if self.app is not None else None
        return caches[alias or "default"]

    @staticmethod
    def meta_key(task_id: str) -> str:
        return f"celery-task-meta-{task_id}"

    @staticmethod
    def group_key(group_id: str) -> str:
        return f"celery-taskset-meta-{group_id}"

    # -- records -----------------------------------------------------------------------------------
    def set_state(
        self, task_id: str, meta: dict[str, Any], *, force: bool = False, result_json: str | None = None
    ) -> bool:
        key = self.meta_key(task_id)
        current = self.cache.get(key)
        if current and not force and current.get("status") in READY:
            return False
        self.cache.set(key, serialization.loads(encode_meta(meta, result_json)), self.timeout)
        return True

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        return self.cache.get(self.meta_key(task_id))

    def get_many(self, task_ids: list[str]) -> list[dict[str, Any] | None]:
        found = self.cache.get_many([self.meta_key(task_id) for task_id in task_ids])
        return [found.get(self.meta_key(task_id)) for task_id in task_ids]

    def forget(self, task_id: str) -> None:
        self.cache.delete(self.meta_key(task_id))

    def wait(
        self, task_ids: list[str], timeout: float | None = None, interval: float = 1.0
    ) -> list[dict[str, Any]]:
        return poll_until_ready(self.get_many, task_ids, timeout, interval)

    # -- groups and chords -------------------------------------------------------------------------
    def save_group(self, group_id: str, value: Any) -> None:
        self.cache.set(self.group_key(group_id), serialization.roundtrip(value), self.timeout)

    def restore_group(self, group_id: str) -> Any:
        return self.cache.get(self.group_key(group_id))

    def delete_group(self, group_id: str) -> None:
        self.cache.delete(self.group_key(group_id))

    def barrier(self, group_id: str, member: str, size: int, claimant: str) -> bool:
        """Mark ``member`` (its index) done; True for the one caller that finds all ``size`` marked."""
        cache = self.cache
        cache.add(f"chord-done-{group_id}-{member}", claimant, self.timeout)
        marks = cache.get_many([f"chord-done-{group_id}-{index}" for index in range(size)])
        if len(marks) < size:
            return False
        return self.claim(group_id, claimant)

    def set_state_joining(
        self, task_id: str, meta: dict[str, Any], chord: dict[str, Any], *, result_json: str | None = None
    ) -> ChordHeader | None:
        self.set_state(task_id, meta, result_json=result_json)
        return join_chord(self, chord, task_id)

    def claim(self, group_id: str, claimant: str) -> bool:
        """The chord's outcome for ``claimant``: the first caller, and the same one again (redelivered)."""
        key = f"chord-fired-{group_id}"
        return bool(self.cache.add(key, claimant, self.timeout)) or self.cache.get(key) == claimant

    def claim_delivery(self, task_id: str, token: str) -> bool:
        """The first send of ``task_id``'s message runs (and its redeliveries); another send does not."""
        key = f"chord-sent-{task_id}"
        return bool(self.cache.add(key, token, self.timeout)) or self.cache.get(key) == token

    # -- revocation (on Redis: see revocations.py) -------------------------------------------------
    def revoke(self, task_ids: Any) -> None:
        self.revocations.revoke(task_ids)

    def revoked_since(self, since: float) -> list[str]:
        return self.revocations.revoked_since(since)

    def follow_revocations(self, on_revoke: Any) -> None:
        self.revocations.follow_revocations(on_revoke)

"""Revocations for the Django stores: on the broker's Redis when there is one, else in this process.

A revocation must reach every worker process at once (a worker skips a revoked task it has already
prefetched), which a database or cache cannot broadcast without polling. So the Django stores keep them
where ``app.control`` keeps its channel: the Redis ``broker_url`` names (``compat.stores.redis_for``), in
the Redis store's layout under ``result_namespace``. With no Redis (a ``memory://`` broker, all workers in
one process), listeners are called in this process, and ``revoked_since`` also finds the REVOKED records
the store holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from compat.results.redis import RedisStore
from compat.stores import redis_for


class Revocations:
    """``revoke``, ``revoked_since`` and ``follow_revocations`` of a store that is not Redis."""

    def __init__(self, app: Any, revoked_records: Callable[[float], list[str]]) -> None:
        self.app = app
        self.revoked_records = revoked_records
        self.revoked: dict[str, float] = {}
        self.listeners: list[Callable[[str], None]] = []

    def _redis(self) -> RedisStore | None:
        client = redis_for(self.app) if self.app is not None else None
        if client is None:
            return None
        cached = self.__dict__.get("_store")
        if cached is None or cached[0] is not client:
            store = RedisStore(client=client, namespace=self.app.conf.result_namespace)
            cached = self._store = (client, store)
        return cached[1]

    def revoke(self, task_ids: Iterable[str]) -> None:
        ids = list(task_ids)
        remote = self._redis()
        if remote is not None:
            remote.revoke(ids)
            return
        for task_id in ids:
            self.revoked[task_id] = time.time()
            for listener in list(self.listeners):
                listener(task_id)

    def revoked_since(self, since: float) -> list[str]:
        remote = self._redis()
        if remote is not None:
            return remote.revoked_since(since)
        local = [task_id for task_id, when in self.revoked.items() if when > since]
        return sorted(set(local) | set(self.revoked_records(since)))

    def follow_revocations(self, on_revoke: Callable[[str], None]) -> None:
        remote = self._redis()
        if remote is not None:
            remote.follow_revocations(on_revoke)
        else:
            self.listeners.append(on_revoke)

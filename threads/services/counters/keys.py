"""Counter keys and increments: where a post's pending deltas live in Redis, and adding to them.

See the package docstring for the layout (``post:<id>``, ``claim:<seq>``, ``claims``, ``claim-seq``).
"""

from __future__ import annotations

import functools

import redis
from django.db import transaction

from threads.services import redis_client

FIELDS = ("likes_count", "comments_count")


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

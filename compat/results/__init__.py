"""Results: the handles (``AsyncResult``, ``GroupResult``, ``EagerResult``), the store protocol, the Redis
and in-memory stores, and the chord barrier.

``handles`` and ``groups`` are what callers hold; ``store`` says what a store does and picks one for
``result_backend``; ``redis`` and ``memory`` are the stores; ``chord`` is the barrier a chord's header
members count themselves in. ``compat.result`` is the public module, as ``celery.result`` is.
"""

from __future__ import annotations

from .groups import GroupResult, ResultSet, result_from_tuple
from .handles import AsyncResult, EagerResult, assert_will_not_block
from .store import READY, DisabledStore, encode_meta, store_from_url

__all__ = [
    "READY",
    "AsyncResult",
    "DisabledStore",
    "EagerResult",
    "GroupResult",
    "ResultSet",
    "assert_will_not_block",
    "encode_meta",
    "result_from_tuple",
    "store_from_url",
]

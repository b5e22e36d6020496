"""Result handles, as ``celery.result`` exports them; they live in ``compat.results``."""

from __future__ import annotations

from .exceptions import TimeoutError
from .results.groups import GroupResult, ResultSet, result_from_tuple
from .results.handles import E_WOULDBLOCK, AsyncResult, EagerResult, assert_will_not_block

__all__ = [
    "E_WOULDBLOCK",
    "AsyncResult",
    "EagerResult",
    "GroupResult",
    "ResultSet",
    "TimeoutError",
    "assert_will_not_block",
    "result_from_tuple",
]

"""A JSON serializer for Django's Redis cache: nothing the app reads from Redis is unpickled."""

from __future__ import annotations

import json
from typing import Any


class JSONSerializer:
    """Django's ``RedisSerializer`` contract: ints stay plain (so ``incr`` works), the rest is JSON."""

    def __init__(self, protocol: Any = None) -> None:
        pass

    def dumps(self, obj: Any) -> bytes | int:
        if type(obj) is int:
            return obj
        return json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        try:
            return int(data)
        except ValueError:
            return json.loads(data)

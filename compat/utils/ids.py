"""Random (version 4) UUIDs as strings, made without building a ``uuid.UUID``.

Every ``delay()`` makes two ids: the task id and the broker's id of that one delivery.
``str(uuid.uuid4())`` spends about 3.2 us on each, most of it on the ``UUID`` object; formatting
16 random bytes directly takes 1.3 us and gives the same text: 32 hex digits in 8-4-4-4-12 groups,
version 4, RFC 4122 variant.
"""

from __future__ import annotations

import os

_VARIANT = "89ab"  # the RFC 4122 variant: the first hex digit of the fourth group is 10xx in binary


def uuid4_str() -> str:
    """A new random UUID, as ``str(uuid.uuid4())`` prints it (lowercase, hyphenated)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

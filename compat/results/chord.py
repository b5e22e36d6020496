"""The chord barrier: a chord's body runs once, when the last member of its header has succeeded.

Each succeeded header member counts itself in the barrier (by its index, so a redelivered member counts
once); exactly one member, the one that completes it, gets the header's task ids and state records, also
when members finish at once on different workers, and gets them again when it is redelivered (it may
have died before it sent the body; the body's worker runs one of its sends: ``claim_delivery``). The
Redis store does this in the same call as the member's state write (``set_state_joining``).
"""

from __future__ import annotations

from typing import Any

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
    and state records (again if that member is redelivered), also when members finish at once on
    different workers or are redelivered.
    """
    if not store.barrier(chord["id"], member_key(chord, task_id), chord["size"], task_id):
        return None
    member_ids = header_ids(store.restore_group(chord["id"]))
    return member_ids, store.get_many(member_ids)

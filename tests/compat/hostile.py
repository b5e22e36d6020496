"""Malformed queue messages, generated: wrong types for every field and option, missing and extra fields,
huge, deep, invalid UTF-8, not JSON at all. Each comes with the Redis id it is stored under and, when
its body still names a usable task id, that id (so a test can find what became of it)."""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from compat.inbound import FORBIDDEN_OPTIONS, OPTION_TYPES

FIELDS = ("queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp")


def _deep(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


#: Values of every JSON shape, including ones Python's json reads but JSON forbids (NaN, Infinity).
POOL: tuple = (
    None,
    0,
    -1,
    2**70,
    1.5,
    float("nan"),
    float("inf"),
    "",
    "text",
    "x" * 400,
    [],
    [1, "a"],
    {},
    {"k": [1]},
    True,
    False,
    _deep(50),
)


def _pick(rng: random.Random) -> object:
    return copy.deepcopy(rng.choice(POOL))


@dataclass
class Hostile:
    rid: str
    body: bytes
    task_id: str | None  # a task id the worker could record, when the body still carries one


def _valid(queue: str, task: str, rid: str, task_id: str) -> dict:
    return {
        "queue_name": queue,
        "actor_name": task,
        "args": [1],
        "kwargs": {},
        "options": {"redis_message_id": rid},
        "message_id": task_id,
        "message_timestamp": int(time.time() * 1000),
    }


def _raw_bodies(rng: random.Random, fields: dict) -> list[bytes]:
    encoded = json.dumps(fields).encode()
    return [
        b"\xff\xfe not utf-8 \xc3\x28",
        encoded[: rng.randrange(1, len(encoded))],  # truncated
        b"[1, 2, 3]",
        b'"just a string"',
        b"42",
        b"null",
        b"",
        b"\x00" * 64,
        "\ufeff".encode() + encoded,  # a byte-order mark
        encoded.replace(b'"args": [1]', b'"args": ' + b"[" * 100_000 + b"]" * 100_000),
        encoded.replace(b'"kwargs": {}', b'"kwargs": {"a": 1, "a": {"b": 2}}'),
        encoded.replace(b'"args": [1]', b'"args": [NaN, Infinity, -Infinity]'),
    ]


def _mutate(rng: random.Random, fields: dict) -> None:
    kind = rng.randrange(6)
    if kind in (3, 5) and not isinstance(fields.get("options"), dict):
        kind = 0
    if kind == 1 and not fields:
        kind = 0
    if kind == 0:
        fields[rng.choice(FIELDS)] = _pick(rng)
    elif kind == 1:
        fields.pop(rng.choice(FIELDS), None)
    elif kind == 2:
        fields[rng.choice(("extra", "queue", "priority", "__class__"))] = _pick(rng)
    elif kind == 3:
        fields["options"][rng.choice((*OPTION_TYPES, *FORBIDDEN_OPTIONS))] = _pick(rng)
    elif kind == 4:
        fields["kwargs"] = {rng.choice(("self", "x", "", "1", "é")): _pick(rng)}
    else:
        fields["options"][rng.choice(("unknown", "compat", "lane", "chord", "link"))] = _pick(rng)


def hostile_messages(queue: str, task: str, count: int, seed: int = 1) -> Iterator[Hostile]:
    """``count`` malformed messages for ``task`` on ``queue`` (plus a few huge ones)."""
    rng = random.Random(seed)
    for index in range(count):
        rid = f"hostile-{seed}-{index}"
        task_id = f"fuzz-{seed}-{index}"
        fields = _valid(queue, task, rid, task_id)
        if index % 10 == 0:
            bodies = _raw_bodies(rng, fields)
            yield Hostile(rid, bodies[(index // 10) % len(bodies)], task_id)
            continue
        for _ in range(rng.randint(1, 3)):
            _mutate(rng, fields)
        carried = fields.get("message_id")
        if isinstance(carried, str) and carried and carried != task_id:
            carried = fields["message_id"] = f"{carried}-{rid}"  # unique, so its fate can be looked up
        body = json.dumps(fields).encode()
        yield Hostile(rid, body, carried if isinstance(carried, str) and carried else None)
    for index in range(3):  # huge: a 5 MB argument, runnable (the size limit is the producer's)
        rid, task_id = f"hostile-{seed}-huge-{index}", f"fuzz-{seed}-huge-{index}"
        fields = _valid(queue, task, rid, task_id)
        fields["args"] = ["y" * 5_000_000]
        yield Hostile(rid, json.dumps(fields).encode(), task_id)

"""Celery's Redis transport (kombu) as the import reads it: queues, priority lanes, ``unacked``.

kombu keeps a queue ``q`` as Redis lists: ``q`` for priority 0 and ``q<sep><step>`` for each other
``priority_steps`` step (``sep`` is ``"\\x06\\x16"``, the steps ``0, 3, 6, 9``); messages are LPUSHed and
consumed from the right. A message a worker has taken but not acknowledged (also every countdown/ETA
message a worker holds) sits in the ``unacked`` hash (delivery tag -> ``[payload, exchange,
routing_key]``) and the ``unacked_index`` sorted set. Queue names are found in the
``_kombu.binding.<exchange>`` sets (members ``routing_key<sep>pattern<sep>queue``). Every key may carry
the transport's ``global_keyprefix``.

The import's own bookkeeping lives beside them: a staging list (messages taken out of Celery's keys
and not yet recorded as moved) and the set of task ids already moved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
#: kombu's own queues, which hold no task messages: remote control, events, replies.
SYSTEM_QUEUE_MARKS = (".pidbox", "celeryev.", ".reply.")
STAGING_KEY = "compat.import-celery.staging"
MOVED_KEY = "compat.import-celery.moved"
MOVED_TTL = 30 * 86400

_CLAIM = (Path(__file__).with_name("claim.lua")).read_text(encoding="utf-8")


def redis_errors() -> type[Exception]:
    """What the Celery broker's client raises when that Redis fails (for the command's error line)."""
    return redis.RedisError


@dataclass(frozen=True)
class Staged:
    """One message taken out of Celery's keys: where it was, its queue and its kombu payload."""

    entry: str  # the staging list's element, removed once the message is recorded
    origin: str  # "queue" or "unacked"
    queue: str
    payload: str


class CeleryRedis:
    """One Celery broker Redis (``redis://...``), read and emptied the way kombu lays it out."""

    def __init__(
        self, url: str, *, prefix: str = "", sep: str = SEP, priority_steps: tuple[int, ...] = PRIORITY_STEPS
    ) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, decode_responses=False)
        self.prefix = prefix
        self.sep = sep
        self.priority_steps = tuple(sorted(priority_steps))
        self._claim = self.client.register_script(_CLAIM)

    def key(self, name: str) -> str:
        return self.prefix + name

    # -- reading -------------------------------------------------------------------------------------
    def ping(self) -> None:
        self.client.ping()

    def pattern_subscribers(self) -> int:
        """Pattern subscriptions on the server: kombu workers hold some (remote control, events)."""
        return int(self.client.execute_command("PUBSUB", "NUMPAT"))

    def bound_queues(self) -> list[str]:
        """Queue names in kombu's binding sets, without kombu's system queues."""
        queues = set()
        for key in self.client.scan_iter(match=self.key("_kombu.binding.*"), count=500):
            for member in self.client.smembers(key):
                queue = member.decode("utf-8", "replace").split(self.sep)[-1]
                if queue and not any(mark in queue for mark in SYSTEM_QUEUE_MARKS):
                    queues.add(queue)
        return sorted(queues)

    def lanes(self, queue: str) -> list[str]:
        """The Redis lists of ``queue``, highest priority (lowest step) first."""
        return [self.key(queue if step == 0 else f"{queue}{self.sep}{step}") for step in self.priority_steps]

    def peek(self, queues: list[str]) -> Iterator[tuple[str, str, str]]:
        """``(origin, queue, payload)`` of every message, without taking any (for ``--dry-run``)."""
        for queue in queues:
            for lane in self.lanes(queue):
                for payload in reversed(self.client.lrange(lane, 0, -1)):
                    yield "queue", queue, payload.decode("utf-8", "replace")
        for raw in self.client.hvals(self.key("unacked")):
            yield ("unacked", *self._unacked(raw))

    def pending(self, queues: list[str]) -> int:
        """How many messages ``claim`` may still take (the staging list not counted)."""
        with self.client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for lane in self.lanes(queue):
                    pipe.llen(lane)
            pipe.hlen(self.key("unacked"))
            return sum(pipe.execute())

    # -- moving --------------------------------------------------------------------------------------
    def staged(self) -> list[Staged]:
        """Messages a previous run took out of Celery's keys and did not get to record (oldest first)."""
        return [self._staged(entry) for entry in reversed(self.client.lrange(self.key(STAGING_KEY), 0, -1))]

    def claim(self, queues: list[str], limit: int) -> list[Staged]:
        """Take up to ``limit`` messages out of Celery's keys into the staging list, in one script call."""
        lanes = [(queue, lane) for queue in queues for lane in self.lanes(queue)]
        keys = [self.key(STAGING_KEY), self.key("unacked"), self.key("unacked_index"), *(k for _, k in lanes)]
        entries = self._claim(keys=keys, args=[limit, *(queue for queue, _ in lanes)])
        return [self._staged(entry) for entry in entries]

    def was_moved(self, task_id: str) -> bool:
        return bool(self.client.sismember(self.key(MOVED_KEY), task_id))

    def done(self, staged: Staged, task_id: str | None) -> None:
        """Record ``staged`` as handled: its task id joins the moved set, it leaves the staging list."""
        with self.client.pipeline(transaction=True) as pipe:
            if task_id:
                pipe.sadd(self.key(MOVED_KEY), task_id)
                pipe.expire(self.key(MOVED_KEY), MOVED_TTL)
            pipe.lrem(self.key(STAGING_KEY), 1, staged.entry)
            pipe.execute()

    def close(self) -> None:
        self.client.close()

    # -- entries -------------------------------------------------------------------------------------
    def _staged(self, entry: bytes | str) -> Staged:
        text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
        origin, where, raw = json.loads(text)
        if origin == "unacked":
            queue, payload = self._unacked(raw)
            return Staged(text, origin, queue, payload)
        return Staged(text, origin, where, raw)

    def _unacked(self, raw: bytes | str) -> tuple[str, str]:
        """``(queue, payload)`` of an ``unacked`` entry ``[payload, exchange, routing_key]``."""
        try:
            payload, exchange, routing_key = json.loads(raw)
            return self._queue_for(exchange, routing_key), json.dumps(payload)
        except (ValueError, TypeError):
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            return "celery", text

    def _queue_for(self, exchange: str, routing_key: str) -> str:
        """The queue kombu would restore a message to: its exchange's binding for the routing key."""
        if exchange:
            for member in self.client.smembers(self.key(f"_kombu.binding.{exchange}")):
                key, _pattern, queue = (member.decode("utf-8", "replace").split(self.sep) + ["", ""])[:3]
                if key == routing_key and queue:
                    return queue
        return routing_key or "celery"

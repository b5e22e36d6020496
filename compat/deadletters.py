"""The dead-letter store: every task that failed for good, with what is needed to understand and rerun it.

Records live in the stores' Redis (``compat.stores``: the result backend's, whatever the broker) under
``<namespace>:deadletters`` (a sorted set of task ids by failure time) and ``<namespace>:deadletters.data``
(id -> JSON record holding the task name, id, args, kwargs, queue, exception, traceback, retries, times,
the reason and the original message). They are kept for
``dead_letter_retention`` seconds (default 7 days; 0 keeps them forever) and never expire silently
otherwise. Requeueing sends the original message again, with its original id and a fresh retry budget,
after resetting its state to PENDING.
"""

from __future__ import annotations

import logging
import time
import traceback as tb
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis
from dramatiq.message import Message

from . import serialization, states
from .stores import redis_for

logger = logging.getLogger("compat.deadletters")

#: How much of a body that cannot be run a dead-letter record keeps.
RAW_KEPT_BYTES = 64 * 1024

#: Options a requeued dead letter starts without (besides the broker's ``delivery_options``).
logger = logging.getLogger("compat.deadletters")

REQUEUE_DROPPED_OPTIONS = ("retries", "eta_iso", "traceback", "requeue_timestamp")


def _iso(ms: float | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat() if ms else None


def build_record(
    message: Any,
    *,
    reason: str,
    exception: BaseException | None = None,
    traceback_text: str | None = None,
    raw: bytes | None = None,
    raw_id: str | None = None,
) -> dict[str, Any]:
    """A dead-letter record for ``message`` (a Dramatiq message or proxy).

    ``message`` is None for a body that cannot be run as it is (undecodable or malformed): the record
    then keeps the raw body (its first ``RAW_KEPT_BYTES``) under an id of its own, derived from
    ``raw_id`` (the id it was stored under in the queue), so that a crafted body can never replace the
    record of a real task.
    """
    now = time.time() * 1000
    if message is None:
        text = raw.decode("utf-8", "replace") if raw else None
        if text is not None and len(text) > RAW_KEPT_BYTES:
            text = text[:RAW_KEPT_BYTES] + f"... [{len(text) - RAW_KEPT_BYTES} more characters]"
        return {
            "id": f"unrunnable-{raw_id or uuid.uuid4().hex}",
            "task": None,
            "args": [],
            "kwargs": {},
            "queue": None,
            "exception": None,
            "traceback": None,
            "retries": 0,
            "reason": reason,
            "failed_at": _iso(now),
            "enqueued_at": None,
            "message": text,
        }
    if exception is not None and traceback_text is None:
        traceback_text = "".join(tb.format_exception(type(exception), exception, exception.__traceback__))
    return {
        "id": message.message_id,
        "task": message.actor_name,
        "args": list(message.args),
        "kwargs": dict(message.kwargs),
        "queue": message.queue_name.removesuffix(".DQ"),
        "exception": serialization.exception_to_meta(exception) if exception is not None else None,
        "exception_repr": repr(exception) if exception is not None else None,
        "traceback": traceback_text,
        "retries": message.options.get("retries", 0),
        "reason": reason,
        "failed_at": _iso(now),
        "enqueued_at": _iso(message.message_timestamp),
        "message": message.encode().decode("utf-8"),
    }


class DeadLetterStore:
    """List, show, requeue and purge dead letters of one namespace (``broker_namespace``)."""

    def __init__(self, client: redis.Redis, namespace: str, retention: float = 7 * 86400) -> None:
        self.client = client
        self.index_key = f"{namespace}:deadletters"
        self.data_key = f"{namespace}:deadletters.data"
        self.retention = retention

    # -- writing -----------------------------------------------------------------------------------
    def add(self, record: dict[str, Any]) -> None:
        """Keep ``record`` (replacing an older record of the same task id) and prune expired ones."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.data_key, record["id"], serialization.dumps(record))
            pipe.zadd(self.index_key, {record["id"]: time.time() * 1000})
            pipe.execute()
        self.prune()

    def prune(self, limit: int = 500) -> int:
        """Drop records older than the retention (none when retention is 0)."""
        if not self.retention:
            return 0
        horizon = (time.time() - self.retention) * 1000
        expired = self.client.zrangebyscore(self.index_key, "-inf", horizon, start=0, num=limit)
        if expired:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(self.index_key, *expired)
                pipe.hdel(self.data_key, *expired)
                pipe.execute()
        return len(expired)

    # -- reading -----------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.client.zcard(self.index_key))

    def get(self, task_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(self.data_key, task_id)
        return serialization.loads(raw) if raw else None

    def iter(self, task: str | None = None, queue: str | None = None) -> Iterator[dict[str, Any]]:
        """Records, newest first, optionally only those of one task name or queue."""
        batch = 200
        start = 0
        while True:
            ids = self.client.zrevrange(self.index_key, start, start + batch - 1)
            if not ids:
                return
            for raw in self.client.hmget(self.data_key, ids):
                if raw is None:
                    continue
                record = serialization.loads(raw)
                if task and record.get("task") != task:
                    continue
                if queue and record.get("queue") != queue:
                    continue
                yield record
            start += batch

    def list(
        self, task: str | None = None, queue: str | None = None, offset: int = 0, limit: int = 50
    ) -> list[dict[str, Any]]:
        """One page of records, newest first."""
        page = []
        for index, record in enumerate(self.iter(task, queue)):
            if index < offset:
                continue
            if len(page) >= limit:
                break
            page.append(record)
        return page

    # -- acting ------------------------------------------------------------------------------------
    def requeue(self, task_id: str, app: Any) -> bool:
        """Send the dead task again (original id, fresh retries, state back to PENDING); False if unknown."""
        record = self.get(task_id)
        if record is None:
            return False
        if not record.get("task") or not record.get("message"):
            raise ValueError(f"dead letter {task_id} has no decodable message and cannot be requeued")
        message = Message.decode(record["message"].encode("utf-8"))
        dropped = (*REQUEUE_DROPPED_OPTIONS, *app.broker.delivery_options)
        options = {key: value for key, value in message.options.items() if key not in dropped}
        message = Message(
            queue_name=message.queue_name.removesuffix(".DQ"),
            actor_name=message.actor_name,
            args=message.args,
            kwargs=message.kwargs,
            options=options,
            message_id=message.message_id,
        )
        if app.backend.enabled:
            app.backend.forget(message.message_id)
        app.enqueue([(message, None)])
        self.remove(task_id)
        return True

    def remove(self, task_id: str) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(self.index_key, task_id)
            pipe.hdel(self.data_key, task_id)
            pipe.execute()

    def purge(self, task: str | None = None, queue: str | None = None) -> int:
        """Delete every record (or only those of one task or queue); returns how many."""
        if task is None and queue is None:
            count = self.count()
            self.client.delete(self.index_key, self.data_key)
            return count
        ids = [record["id"] for record in self.iter(task, queue)]
        for task_id in ids:
            self.remove(task_id)
        return len(ids)


def store_for(app: Any) -> DeadLetterStore | None:
    """``app``'s dead-letter store, on the result backend's Redis whatever the broker (``compat.stores``).

    None only when the app has no Redis at all (a ``memory://`` broker with an in-memory result backend).
    """
    client = redis_for(app)
    if client is None:
        return None
    return DeadLetterStore(client, app.conf.broker_namespace, float(app.conf.dead_letter_retention or 0))


def bury(
    app: Any,
    message: Any,
    reason: str,
    exception: BaseException | None = None,
    store: DeadLetterStore | None = None,
) -> None:
    """Keep ``message`` as dead (and alert); storage errors are logged, not raised.

    Parameters:
      reason: why (``failed``, ``rejected``, ``time-limit``, ``not-registered``).
      exception: what it died of (its traceback is kept).
      store: the store to use (default ``store_for(app)``; None there means dead letters are off).
    """
    from .alerts import alert_dead_letter

    store = store if store is not None else store_for(app)
    if store is None:
        return
    try:
        record = build_record(message, reason=reason, exception=exception)
        store.add(record)
        alert_dead_letter(app, record)
    except Exception:
        logger.exception("could not store dead letter for %s", getattr(message, "message_id", message))


def bury_raw(app: Any, data: bytes, reason: str, *, raw_id: str | None = None, runnable: bool = True) -> None:
    """Dead-letter a raw message taken off a queue.

    ``runnable`` bodies (a poison message: valid, but its worker died each time) are recorded as the task
    they are, and the task's state becomes FAILURE. Other bodies (undecodable or malformed) are kept raw
    under an id of their own: their fields are not trusted, not even their task id.
    """
    from .alerts import alert_dead_letter
    from .exceptions import WorkerLostError

    store = store_for(app)
    message = None
    if runnable:
        try:
            message = Message.decode(data)
        except Exception:
            message = None
    record = build_record(message, reason=reason, exception=WorkerLostError(reason), raw=data, raw_id=raw_id)
    record["traceback"] = None
    if store is not None:
        store.add(record)
    if message is not None and app.backend.enabled:
        meta = states.failure(message.message_id, WorkerLostError(reason), traceback=None)
        app.backend.set_state(message.message_id, meta)
    alert_dead_letter(app, record)


#: How long the store remembers that a message came back unacknowledged (a broker's redelivery count).
REDELIVERY_MEMORY_SECONDS = 86400


def count_redelivery(app: Any, message_id: str) -> int:
    """Count one more redelivery of ``message_id`` (its worker died holding it); the count so far.

    For brokers that flag a redelivery but do not count them (RabbitMQ's classic queues): the count lives
    beside the dead letters, under ``broker_namespace``, for a day. Raises ``LookupError`` without a store.
    """
    client = redis_for(app)
    if client is None:
        raise LookupError("no Redis to count redeliveries in")
    key = f"{app.conf.broker_namespace}:__redeliveries__:{message_id}"
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, REDELIVERY_MEMORY_SECONDS)
        count, _ = pipe.execute()
    return int(count)

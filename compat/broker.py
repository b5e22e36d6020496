"""Dramatiq brokers for the facade: Redis with instant wake-up, batched enqueue and priority lanes.

Stock Dramatiq consumers poll Redis with a back-off of up to one second when a queue is empty, so a task
sent to an idle worker waits ~0.4 s on average. Here every enqueue also pushes a wake token on
``<ns>:<queue>.wake`` and idle consumers block on it (``BLPOP``), so they start at once while making
no more idle calls than stock polling does.

Priorities (Celery's ``priority=0..9``, 0 highest as on Celery's Redis transport) are lanes: a message
goes to ``<queue>`` or to ``<queue>.p<step>`` for the step it falls in (``priority_steps``, default
0/3/6/9). One consumer serves all lanes of its queue and always fetches higher lanes first, so a
high-priority message starts before every lower-priority message that no worker has prefetched yet.
A message keeps its queue's name (workers look consumers up by it) and carries its lane in
``options["lane"]``. Lanes cost nothing until used: a lane is registered in ``<ns>:<queue>.lanes`` the
first time it is, and consumers read that set every few seconds or when a wake token names a new lane.
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from uuid import uuid4

import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.message import Message

from .exceptions import EncodeError
from .hooks import DefinedHooks
from .inbound import problem
from .outage import tracker

WAKE_TOKENS_KEPT = 16
FETCH_BATCH_LIMIT = 1000
#: Longest text of a message in a worker's log lines (``Failed to process message ...``).
LOGGED_CHARS = 1000

#: Enqueue a batch in one call, in Dramatiq's layout (``<ns>:<list>.msgs`` hash + ``<ns>:<list>`` list), then
#: push the wake tokens: consumers never see part of a batch, and ``delay()`` costs one round trip, like
#: Dramatiq's own ``send()``. A wake list holds at most ``WAKE_TOKENS_KEPT`` tokens: when it is full (no
#: consumer is idle) the new tokens are dropped. ARGV: namespace, n, then n x (list, id, data), then w,
#: then w x (wake key, k, k tokens).
_ENQUEUE = (
    """
local ns = ARGV[1]
local i = 3
for _ = 1, tonumber(ARGV[2]) do
  local list = ns .. ':' .. ARGV[i]
  redis.call('HSET', list .. '.msgs', ARGV[i + 1], ARGV[i + 2])
  redis.call('RPUSH', list, ARGV[i + 1])
  i = i + 3
end
local wakes = tonumber(ARGV[i])
i = i + 1
for _ = 1, wakes do
  local key = ns .. ':' .. ARGV[i]
  local count = tonumber(ARGV[i + 1])
  local room = """
    + str(WAKE_TOKENS_KEPT)
    + """ - redis.call('LLEN', key)
  if room > 0 then
    redis.call('LPUSH', key, unpack(ARGV, i + 2, i + 1 + math.min(count, room)))
  end
  i = i + 2 + count
end
return 1
"""
)

#: Like Dramatiq's fetch, but returns ``[id, data, id, data, ...]`` so that a message whose body cannot be
#: decoded can still be acknowledged (and dead-lettered) by id.
_FETCH = """
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then return {} end
redis.call('SADD', KEYS[3], unpack(ids))
local data = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i = 1, #ids do
  out[2 * i - 1] = ids[i]
  out[2 * i] = data[i]
end
return out
"""


class FieldsProxy(MessageProxy):
    """A ``MessageProxy`` holding the message's fields as its own attributes.

    Dramatiq's proxy forwards every attribute read through ``__getattr__``; the middleware reads a
    message's fields a few dozen times while processing it. ``Message`` is frozen, so copying them once
    is safe.
    """

    def __init__(self, message: Message) -> None:
        super().__init__(message)
        self.queue_name = message.queue_name
        self.actor_name = message.actor_name
        self.args = message.args
        self.kwargs = message.kwargs
        self.options = message.options
        self.message_id = message.message_id
        self.message_timestamp = message.message_timestamp

    def __str__(self) -> str:
        """The message as Dramatiq logs it, cut to ``LOGGED_CHARS``: one huge argument must not write
        megabytes per log line."""
        text = str(self._message)
        if len(text) <= LOGGED_CHARS:
            return text
        return f"{text[:LOGGED_CHARS]}... [{len(text) - LOGGED_CHARS} more characters]"


def check_size(task_name: str, size: int, limit: int) -> None:
    """Refuse, at the call site, a message too big to be a good idea on any broker."""
    if size > limit:
        raise EncodeError(
            f"{task_name}: the message is {size:,} bytes, over the limit of {limit:,} bytes "
            "(task_message_max_bytes): pass a reference to the data (a database id, a file path) "
            "instead of the data itself, or raise the limit"
        )


def lane_for(priority: int | None, steps: Sequence[int]) -> str:
    """The lane for ``priority``: ``''`` (the queue itself) for the top step, else ``'p<step>'``."""
    if priority is None or not steps:
        return ""
    step = steps[max(0, bisect.bisect_right(steps, int(priority)) - 1)]
    return "" if step == steps[0] else f"p{step}"


def lane_queue(queue_name: str, lane: str) -> str:
    """The Redis list of ``lane`` on ``queue_name`` (``'q'``, ``'q.p3'``, ``'q.p3.DQ'``)."""
    if not lane:
        return queue_name
    if queue_name.endswith(".DQ"):
        return f"{queue_name[:-3]}.{lane}.DQ"
    return f"{queue_name}.{lane}"


class CompatRedisBroker(DefinedHooks, RedisBroker):
    """RedisBroker with wake tokens, ``enqueue_many`` in one round trip, and priority lanes."""

    def __init__(
        self,
        *,
        idle_wait: float = 2.0,
        unfit: Callable[[str, bytes, str], None] | None = None,
        max_message_bytes: int = 0,
        **kwargs,
    ) -> None:
        kwargs.setdefault("maintenance_chance", 0)  # compat.maintenance runs it on a clock instead
        super().__init__(**kwargs)
        self.idle_wait = idle_wait
        self.unfit = unfit
        self.max_message_bytes = max_message_bytes
        self.known_lanes: set[tuple[str, str]] = set()
        self.consumers_by_queue: dict[str, _LaneConsumer] = {}
        self._enqueue_script = self.client.register_script(_ENQUEUE)
        self._fetch_script = self.client.register_script(_FETCH)

    def fetch(self, list_name: str, count: int) -> list[tuple[str, bytes | None]]:
        """Take up to ``count`` message ids off ``list_name`` into this process's ack set, with their data."""
        count = max(1, min(count, FETCH_BATCH_LIMIT))
        ns = self.namespace
        flat = self._fetch_script(
            keys=[
                f"{ns}:{list_name}",
                f"{ns}:{list_name}.msgs",
                f"{ns}:__acks__.{self.broker_id}.{list_name}",
                f"{ns}:__heartbeats__",
            ],
            args=[count, current_millis(), self.broker_id],
        )
        return [(rid.decode(), data) for rid, data in zip(flat[::2], flat[1::2], strict=True)]

    @property
    def consumer_class(self):
        return _LaneConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        """A consumer; after a connection error, first give back what the previous one held in memory.

        Dramatiq drops a consumer's prefetched messages and the worker's in-memory delayed messages when
        the broker connection breaks, while their ids stay in this live process's ack sets, where no
        maintenance would ever find them. They are requeued here, once the broker answers again.
        """
        previous = self.consumers_by_queue.get(queue_name)
        consumer = self.consumer_class(self, queue_name, prefetch, timeout)
        if previous is not None:
            try:
                consumer.take_back(previous)
            except redis.ConnectionError as exc:
                tracker.failed()
                raise ConnectionClosed(exc) from None
        self.consumers_by_queue[queue_name] = consumer
        return consumer

    def wake_key(self, base_queue: str) -> str:
        return f"{self.namespace}:{base_queue}.wake"

    def lanes_key(self, base_queue: str) -> str:
        return f"{self.namespace}:{base_queue}.lanes"

    # -- enqueue -----------------------------------------------------------------------------------
    def _prepare(self, message: Message, delay: int | None, owned: bool) -> tuple[Message, bytes]:
        """The message as stored: a fresh ``redis_message_id`` (and the delay queue when delayed).

        ``owned`` messages were just built by the caller for this one send, so their options are updated
        in place; any other message is copied first (a retry re-sends a message still being processed).
        """
        if owned and delay is None:
            message.options["redis_message_id"] = str(uuid4())
        else:
            message = message.copy(options={"redis_message_id": str(uuid4())})
        if delay is not None:
            message = message.copy(
                queue_name=dq_name(message.queue_name), options={"eta": current_millis() + delay}
            )
        try:
            data = message.encode()
        except TypeError as exc:
            raise EncodeError(f"{message.actor_name}: message cannot be encoded as JSON: {exc}") from exc
        if self.max_message_bytes:
            check_size(message.actor_name, len(data), self.max_message_bytes)
        return message, data

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        return self.enqueue_many([(message, delay)])[0]

    def enqueue_many(
        self, items: Iterable[tuple[Message, int | None]], *, owned: bool = False
    ) -> list[Message]:
        """Enqueue several messages in one round trip; nothing is sent if one of them cannot be encoded.

        One script call stores the messages and then pushes the wake tokens (a consumer woken early would
        find only part of the batch and go back to sleep), one per message up to ``WAKE_TOKENS_KEPT``, so
        as many idle consumers wake as there is work for.
        """
        prepared = [(self._prepare(message, delay, owned), delay) for message, delay in items]
        for (message, _), delay in prepared:
            self.emit_before("enqueue", message, delay)
        args: list = [self.namespace, len(prepared)]
        wakes: dict[str, list[str]] = {}
        for (message, data), _ in prepared:
            base, lane = message.queue_name, message.options.get("lane", "")
            args += [lane_queue(base, lane), message.options["redis_message_id"], data]
            if lane and (base, lane) not in self.known_lanes:
                self.client.sadd(self.lanes_key(base.removesuffix(".DQ")), lane)
                self.known_lanes.add((base, lane))
            tokens = wakes.setdefault(base, [])
            if len(tokens) < WAKE_TOKENS_KEPT:
                tokens.append(lane or "-")
        args.append(len(wakes))
        for base, tokens in wakes.items():
            args += [f"{base}.wake", len(tokens), *tokens]
        self._enqueue_script(keys=[], args=args)
        for (message, _), delay in prepared:
            self.emit_after("enqueue", message, delay)
        return [message for (message, _), _ in prepared]

    # -- lanes -------------------------------------------------------------------------------------
    def lanes_of(self, base_queue: str) -> list[str]:
        """Every lane of ``base_queue`` in use, highest priority first (``''`` is the queue itself)."""
        raw = self.client.smembers(self.lanes_key(base_queue.removesuffix(".DQ")))
        lanes = sorted((item.decode() for item in raw), key=lambda lane: int(lane[1:]))
        return ["", *lanes]

    def do_qsize(self, queue_name: str) -> int:  # type: ignore[override]
        total = 0
        base = queue_name.removesuffix(".DQ")
        for lane in self.lanes_of(base):
            for name in (lane_queue(base, lane), dq_name(lane_queue(base, lane))):
                total += self._dispatch("qsize")(name)
        return total

    def flush(self, queue_name: str) -> None:
        base = queue_name.removesuffix(".DQ")
        for lane in self.lanes_of(base):
            for name in (lane_queue(base, lane), dq_name(lane_queue(base, lane))):
                self._dispatch("purge")(name)


class _LaneConsumer(_RedisConsumer):
    """Consumer of one queue and its lanes that sleeps on the wake list instead of polling.

    Acks and nacks go to the lane list the message was fetched from (its ``options["lane"]``).
    """

    LANE_REFRESH_SECONDS = 10.0
    FULL_WAIT = 0.05

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.lanes: list[str] = [""]
        self.lanes_checked = 0.0
        self.wake_key = broker.wake_key(queue_name)
        self.etas: list[tuple[int, str]] = []
        # Full prefetch: wait for a quarter of it to free up, then fetch that many in one call.
        self.refill_at = max(1, prefetch // 4)
        self.slots_freed = threading.Event()
        self.waiting_for_slots = False
        self.waited = False
        self.lane_of_list: dict[str, str] = {}

    def _refresh_lanes(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.lanes_checked > self.LANE_REFRESH_SECONDS:
            self.lanes = self.broker.lanes_of(self.queue_name)
            self.lanes_checked = now

    def _list_of(self, message) -> str:
        return lane_queue(self.queue_name, message.options.get("lane", ""))

    def ack(self, message):
        try:
            self.broker.do_ack(self._list_of(message), message.options["redis_message_id"])
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None
        finally:
            self._release(message)

    def nack(self, message):
        try:
            self.broker.do_nack(self._list_of(message), message.options["redis_message_id"])
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None
        finally:
            self._release(message)

    def _release(self, message) -> None:
        """Forget a finished message; wake the consumer once enough prefetch slots are free."""
        self.queued_message_ids.discard(message.message_id)
        if self.waiting_for_slots and self.prefetch - self.outstanding_message_count >= self.refill_at:
            self.slots_freed.set()

    def _wait_for_slots(self) -> bool:
        """True (after waiting) when the prefetch is too full to fetch now.

        Waits until worker threads free ``refill_at`` slots, so the next fetch takes a batch, or
        ``FULL_WAIT`` passes; after one such wait any free slot is enough (delayed messages held in
        memory can keep the prefetch nearly full for a long time).
        """
        self.waiting_for_slots = True
        self.slots_freed.clear()
        free = self.prefetch - self.outstanding_message_count
        if free >= self.refill_at or (free > 0 and self.waited):
            self.waiting_for_slots = self.waited = False
            return False
        self.slots_freed.wait(self.FULL_WAIT)
        self.waiting_for_slots = False
        self.waited = True
        return True

    def requeue(self, messages):
        by_lane: dict[str, list[str]] = {}
        for message in messages:
            by_lane.setdefault(self._list_of(message), []).append(message.options["redis_message_id"])
        for lane, ids in by_lane.items():
            self.broker.do_requeue(lane, *ids)

    def _fetch(self, wanted: int) -> list[tuple[str, str, bytes | None]]:
        self._refresh_lanes()
        fetched: list[tuple[str, str, bytes | None]] = []
        for lane in self.lanes:
            if len(fetched) >= wanted:
                break
            name = lane_queue(self.queue_name, lane)
            self.lane_of_list[name] = lane
            fetched.extend((name, rid, data) for rid, data in self.broker.fetch(name, wanted - len(fetched)))
        return fetched

    def take_back(self, previous: _LaneConsumer) -> None:
        """Requeue what ``previous`` (a consumer of the same queue that broke) held but never handed out."""
        lost: dict[str, list[str]] = {}
        for list_name, rid, _ in previous.message_cache:
            lost.setdefault(list_name, []).append(rid)
        if self.queue_name.endswith(".DQ"):
            for lane in self.broker.lanes_of(self.queue_name):
                name = lane_queue(self.queue_name, lane)
                acks = f"{self.broker.namespace}:__acks__.{self.broker.broker_id}.{name}"
                lost.setdefault(name, []).extend(rid.decode() for rid in self.broker.client.smembers(acks))
        for list_name, rids in lost.items():
            if rids:
                self.broker.do_requeue(list_name, *set(rids))
        previous.message_cache = []

    def _discard(self, list_name: str, rid: str, data: bytes | None, reason: str) -> None:
        """Drop a message that cannot be run: dead-letter its raw body with ``reason``, then ack it."""
        self.logger.error(
            "Message %s on %r cannot be run (%s); moving it to the dead letters.", rid, list_name, reason
        )
        if data is not None and self.broker.unfit is not None:
            self.broker.unfit(rid, data, reason)
        self.broker.do_ack(list_name, rid)

    def _checked(self, list_name: str, rid: str, data: bytes | None) -> Message | None:
        """The message stored under ``rid``, or None (after dead-lettering it) when it cannot be run.

        The id it was fetched under and the lane it was fetched from are the truth about where it lives,
        whatever its options say: acks and requeues use them.
        """
        if data is None:  # an id without a body: acknowledged meanwhile, or pushed twice
            self.logger.warning("Message id %s on %r has no body; dropping the id.", rid, list_name)
            self.broker.do_ack(list_name, rid)
            return None
        try:
            message = Message.decode(data)
        except DecodeError:
            self._discard(list_name, rid, data, "undecodable: the message body is not a valid message")
            return None
        reason = problem(message, self.queue_name, self.broker.actors)
        if reason is not None:
            self._discard(list_name, rid, data, f"malformed: {reason}")
            return None
        message.options["redis_message_id"] = rid
        lane = self.lane_of_list.get(list_name, "")
        if lane:
            message.options["lane"] = lane
        else:
            message.options.pop("lane", None)
        return message

    def __next__(self):
        try:
            while True:
                if self.message_cache:
                    list_name, rid, data = self.message_cache.pop(0)
                    message = self._checked(list_name, rid, data)
                    if message is None:
                        continue
                    self.queued_message_ids.add(message.message_id)
                    eta = message.options.get("eta")
                    if isinstance(eta, (int, float)):
                        heapq.heappush(self.etas, (int(eta), message.message_id))
                    return FieldsProxy(message)
                if self._wait_for_slots():
                    return None  # the worker handles due delayed messages and shutdown between calls
                self.message_cache = self._fetch(self.prefetch - self.outstanding_message_count)
                tracker.recovered()
                if not self.message_cache:
                    self._idle()
                    return None
        except redis.ConnectionError as e:
            tracker.failed()
            raise ConnectionClosed(e) from None

    def _next_eta_in(self) -> float | None:
        """Seconds until the earliest delayed message this consumer handed out is due (the worker holds
        it in memory and moves it when this consumer next returns)."""
        while self.etas and self.etas[0][1] not in self.queued_message_ids:
            heapq.heappop(self.etas)
        if not self.etas:
            return None
        return max(0.0, (self.etas[0][0] - current_millis()) / 1000)

    def _idle(self) -> None:
        """Block until an enqueue wakes this queue, a held delayed message is due, or ``idle_wait`` passes."""
        wait = self.broker.idle_wait
        due = self._next_eta_in()
        if due is not None:
            wait = min(wait, due)
            if wait < 0.01:
                return
        woken = self.broker.client.blpop([self.wake_key], timeout=wait)
        if woken and woken[1] not in (b"-", b""):
            lane = woken[1].decode()
            if lane not in self.lanes:
                self._refresh_lanes(force=True)

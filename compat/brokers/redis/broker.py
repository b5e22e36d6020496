"""The Redis broker: Dramatiq's RedisBroker with instant wake-up, batched enqueue and priority lanes.

Stock Dramatiq consumers poll Redis with a back-off of up to one second when a queue is empty, so a task
sent to an idle worker waits ~0.4 s on average. Here every enqueue also pushes a wake token on
``<ns>:<queue>.wake`` and idle consumers block on it (``BLPOP``), so they start at once while making
no more idle calls than stock polling does.

Priorities are lanes (``lanes.py``): the broker turns a message's ``options["priority"]`` into the lane
list it waits in. One consumer serves all lanes of its queue and always fetches higher lanes first, so a
high-priority message starts before every lower-priority message that no worker has prefetched yet.
Lanes cost nothing until used: a lane is registered in ``<ns>:<queue>.lanes`` the first time it is, and
consumers read that set every few seconds or when a wake token names a new lane.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from ...exceptions import EncodeError
from ...utils.ids import uuid4_str
from ..base import FacadeBroker, QueueInspector, check_size, encode_message
from ..outage import tracker
from ..producers import ProducerSlots, in_consumer_thread
from .acks import PendingAcks
from .consumer import LaneConsumer
from .lanes import lane_for, lane_queue
from .packed import PackedScript, close_slots
from .queue_order import QueueOrder
from .scripts import lua

WAKE_TOKENS_KEPT = 16
FETCH_BATCH_LIMIT = 1000
DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)


class InlineAck:
    """A message's acknowledgement, run at the end of a result store's state write on the same Redis.

    ``lua`` follows ``write_state.lua`` (two keys, five arguments) in the store's script; ``done()`` tells
    the consumer the message is acknowledged, so it only frees the prefetch slot.
    """

    __slots__ = ("message", "lua", "keys", "args")

    def __init__(self, message: Message, keys: list[str], args: list) -> None:
        self.message = message
        self.lua = lua("ack")
        self.keys = keys
        self.args = args

    def done(self) -> None:
        self.message.acked = True  # type: ignore[attr-defined]


class CompatRedisBroker(FacadeBroker, RedisBroker):
    """RedisBroker with wake tokens, ``enqueue_many`` in one round trip, and priority lanes.

    Parameters:
      idle_wait: seconds an idle consumer blocks on its wake list before looking again.
      unfit: called with the Redis id, the raw body and the reason of a fetched message that cannot be
        run (undecodable or malformed, see ``compat.inbound``), to dead-letter it before it is
        acknowledged.
      max_message_bytes: the largest encoded message ``enqueue`` sends (0: no limit).
      priority_steps: the priority steps that become lanes (``lanes.py``).
      producers: the publishing slots (``broker_pool_limit``); every enqueue outside a consumer thread
        holds one while it talks to Redis. None: no limit.
      queue_order: the gate of ``queue_order_strategy`` (``queue_order.py``); None: queues side by side.
      producer_client: the client publishes use (``producers.py``), apart from the consumers' ``client``;
        None: the same client.
      **kwargs: ``RedisBroker``'s (``url``, ``namespace``, ``middleware``, ``heartbeat_timeout``, ...).
    """

    connection_errors = (redis.ConnectionError,)
    delivery_options = ("eta", "redis_message_id")

    def __init__(
        self,
        *,
        idle_wait: float = 2.0,
        unfit: Callable[[str, bytes, str], None] | None = None,
        max_message_bytes: int = 0,
        priority_steps: Sequence[int] = DEFAULT_PRIORITY_STEPS,
        producers: ProducerSlots | None = None,
        producer_client: redis.Redis | None = None,
        queue_order: QueueOrder | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("maintenance_chance", 0)  # .maintenance runs it on a clock instead
        super().__init__(**kwargs)
        self.idle_wait = idle_wait
        self.unfit = unfit
        self.max_message_bytes = max_message_bytes
        self.priority_steps = tuple(priority_steps)
        self.producers = producers or ProducerSlots(0)
        self.producer_client = producer_client or self.client
        self.queue_order = queue_order
        #: Set when this process's worker begins a graceful stop (``wake_for_shutdown``).
        self.stopping = False
        self.known_lanes: set[tuple[str, str]] = set()
        self.consumers_by_queue: dict[str, LaneConsumer] = {}
        self._enqueue_script = PackedScript(
            self.client.register_script(lua("enqueue")), integer_reply=True
        )
        self._fetch_script = self.client.register_script(lua("fetch_head", "ack_many", "fetch"))
        self.recover_script = self.client.register_script(lua("recover"))
        self.pass_script = self.client.register_script(lua("pass"))
        self._purge_script = self.client.register_script(lua("purge"))
        self._shares_server: dict[int, bool] = {}
        self.do_ack = self._dispatch("ack")  # Dramatiq builds this closure on every attribute read
        #: The worker threads' acknowledgements, carried by the consumers' fetches (``acks.py``).
        self.acks = PendingAcks(self)

    def close(self) -> None:
        """Close the publishing connections (they reopen on the next publish)."""
        super().close()
        if self.producer_client is not self.client:
            self.producer_client.connection_pool.disconnect()
        close_slots(self.producers.idle())

    def fetch(
        self, list_name: str, count: int, acks: list[tuple[str, str]] | None = None
    ) -> list[tuple[str, bytes | None]]:
        """Take up to ``count`` message ids off ``list_name`` into this process's ack set, with their data,
        after acknowledging ``acks`` (``(list name, Redis id)`` pairs, ``PendingAcks.take``)."""
        count = max(1, min(count, FETCH_BATCH_LIMIT))
        keys = [
            self.key(list_name),
            self.key(f"{list_name}.msgs"),
            self.acks_key(self.broker_id, list_name),
            self.heartbeats_key,
        ]
        args: list = [count, current_millis(), self.broker_id]
        if acks:
            more_keys, more_args = self.acks.layout(acks)
            keys += more_keys
            args += more_args
        flat = self._fetch_script(keys=keys, args=args)
        return [(rid.decode(), data) for rid, data in zip(flat[::2], flat[1::2], strict=True)]

    @property
    def consumer_class(self):
        return LaneConsumer

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

    def inspector(self) -> QueueInspector:
        from .inspector import RedisQueueInspector

        return RedisQueueInspector(self)

    def inline_ack(self, message: Message, client: redis.Redis) -> InlineAck | None:
        """The acknowledgement of ``message`` for a script ``client`` runs, or None when ``client`` talks to
        another Redis server or database than this broker (or the message was not fetched from Redis)."""
        rid = message.options.get("redis_message_id")
        if rid is None or not self.shares_server(client):
            return None
        list_name = lane_queue(message.queue_name, message.options.get("lane", ""))
        return InlineAck(
            message,
            [self.acks_key(self.broker_id, list_name), self.key(f"{list_name}.msgs"), self.heartbeats_key],
            [rid, current_millis(), self.broker_id],
        )

    def shares_server(self, client: redis.Redis) -> bool:
        """Whether ``client`` connects to the same Redis server and database as this broker."""
        pool = client.connection_pool
        shared = self._shares_server.get(id(pool))
        if shared is None:
            mine, theirs = self.client.connection_pool, pool
            fields = ("host", "port", "path", "db", "username")
            shared = mine.connection_class is theirs.connection_class and all(
                mine.connection_kwargs.get(name) == theirs.connection_kwargs.get(name) for name in fields
            )
            self._shares_server[id(pool)] = shared
        return shared

    # -- keys --------------------------------------------------------------------------------------
    def key(self, name: str) -> str:
        """The Redis key ``<namespace>:<name>``."""
        return f"{self.namespace}:{name}"

    def acks_key(self, worker_id: str, list_name: str) -> str:
        """The set of message ids that worker process ``worker_id`` holds from ``list_name``."""
        return f"{self.namespace}:__acks__.{worker_id}.{list_name}"

    @property
    def heartbeats_key(self) -> str:
        """The sorted set of worker process ids by last heartbeat (ms)."""
        return f"{self.namespace}:__heartbeats__"

    @property
    def stop_key(self) -> str:
        """The list this process's idle consumers also block on, so a graceful stop wakes them at once."""
        return f"{self.namespace}:__stop__.{self.broker_id}"

    def wake_for_shutdown(self) -> None:
        """Wake this process's idle consumers for a graceful stop (one token each), and keep their later
        idle waits short: the worker stops its consumers once its tasks are done, and a consumer asleep on
        its wake list would hold the stop up for ``idle_wait``."""
        self.stopping = True
        tokens = max(1, len(self.consumers_by_queue))
        with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(self.stop_key, *["stop"] * tokens)
            pipe.expire(self.stop_key, 60)
            pipe.execute()

    def wake_key(self, base_queue: str) -> str:
        return f"{self.namespace}:{base_queue}.wake"

    def lanes_key(self, base_queue: str) -> str:
        return f"{self.namespace}:{base_queue}.lanes"

    # -- enqueue -----------------------------------------------------------------------------------
    def _prepare(self, message: Message, delay: int | None, owned: bool) -> tuple[Message, bytes]:
        """The message as stored: a fresh ``redis_message_id``, its lane, and the delay queue when delayed.

        ``owned`` messages were just built by the caller for this one send, so their options are updated
        in place; any other message is copied first (a retry re-sends a message still being processed).
        """
        lane = lane_for(message.options.get("priority"), self.priority_steps)
        if owned and delay is None:
            message.options["redis_message_id"] = uuid4_str()
            if lane:
                message.options["lane"] = lane
        else:
            delivery = {"redis_message_id": uuid4_str()}
            if lane:
                delivery["lane"] = lane
            message = message.copy(options=delivery)
        if delay is not None:
            message = message.copy(
                queue_name=dq_name(message.queue_name), options={"eta": current_millis() + delay}
            )
        try:
            data = encode_message(message)
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
        if in_consumer_thread():  # a due delayed message moved by the worker: not a publish
            self._store(self.client, prepared)
        else:
            with self.producers.hold() as slot:
                # a kept slot keeps its connection (``packed.py``); with no pool, a connection per publish
                self._store(self.producer_client, prepared, slot if self.producers.pooled else None)
        for (message, _), delay in prepared:
            self.emit_after("enqueue", message, delay)
        return [message for (message, _), _ in prepared]

    def _store(self, client: redis.Redis, prepared: list, slot: Any = None) -> None:
        """Store prepared messages and push their wake tokens in one script call on ``client`` (on the
        connection of publishing ``slot``, when given)."""
        args: list = [self.namespace, WAKE_TOKENS_KEPT, len(prepared)]
        wakes: dict[str, list[str]] = {}
        for (message, data), _ in prepared:
            base, lane = message.queue_name, message.options.get("lane", "")
            args += [lane_queue(base, lane), message.options["redis_message_id"], data]
            if lane and (base, lane) not in self.known_lanes:
                client.sadd(self.lanes_key(base.removesuffix(".DQ")), lane)
                self.known_lanes.add((base, lane))
            tokens = wakes.setdefault(base, [])
            if len(tokens) < WAKE_TOKENS_KEPT:
                tokens.append(lane or "-")
        args.append(len(wakes))
        for base, tokens in wakes.items():
            args += [f"{base}.wake", len(tokens), *tokens]
        self._enqueue_script(client, args, slot)

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

    def purge(self, queue_names: Iterable[str]) -> int:
        lists = []
        for base in {name.removesuffix(".DQ") for name in queue_names}:
            for lane in self.lanes_of(base):
                lists += [self.key(lane_queue(base, lane)), self.key(dq_name(lane_queue(base, lane)))]
        return int(self._purge_script(keys=lists, args=[])) if lists else 0

    def flush(self, queue_name: str) -> None:
        base = queue_name.removesuffix(".DQ")
        for lane in self.lanes_of(base):
            for name in (lane_queue(base, lane), dq_name(lane_queue(base, lane))):
                self._dispatch("purge")(name)

"""The RabbitMQ consumer: pushed deliveries, checked before a worker thread sees them, poison messages out.

RabbitMQ pushes messages to the consumer (``basic.consume``), so an idle worker makes no broker calls but
AMQP heartbeats, and a message sent to it starts at once. The consumer waits for deliveries at most the
worker's idle timeout, or less when a delayed message it handed out is due sooner (the worker moves it
to its queue between two waits): a countdown is kept to within milliseconds, without polling RabbitMQ.
Messages are acknowledged after the task ran (manual acks); when a worker process dies, RabbitMQ sees its
connection close and hands what it held to another consumer at once, flagged ``redelivered``.

Each delivery is checked like any other broker's (``compat.inbound``): one that cannot be run is kept in
the dead-letter store with the reason and acknowledged, then Celery's ``task_rejected`` is sent, as by the
Redis consumer. A message that keeps coming back (its worker
dies on it each time) is a poison message: past ``worker_max_redeliveries`` returns it goes to the
dead-letter store instead of running again. Quorum queues count returns themselves
(``x-delivery-count``); for classic queues the broker's ``redelivered`` callback counts them.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.logging import get_logger
from dramatiq.message import Message

from ...inbound import problem, rejected
from ..base import FieldsProxy
from ..outage import tracker


class RabbitmqMessage(FieldsProxy):
    """A delivered message: its fields, its delivery tag and whether it was delivered before."""

    def __init__(self, message: Message, tag: int, redelivered: bool) -> None:
        super().__init__(message)
        self._tag = tag
        self.redelivered = redelivered


class FacadeRabbitmqConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer with the facade's message checks and poison-message cap."""

    def __init__(self, broker, queue_name, prefetch, timeout):  # noqa: D107 - replaces Dramatiq's
        self.broker = broker
        self.queue_name = queue_name
        self.logger = get_logger(__name__, type(self))
        self.timeout = timeout / 1000
        self.known_tags: set[int] = set()
        self.deliveries: deque = deque()
        self.etas: list[tuple[int, int]] = []  # (eta ms, tag) of delayed messages the worker holds
        self.settled: list[tuple[int, bool]] = []  # (tag, acknowledged) the worker threads finished
        self.settling = False  # a flush of ``settled`` is scheduled on the connection
        self.lock = threading.Lock()  # ``known_tags`` and ``settled``: worker threads and the consumer
        try:
            self.connection = pika.BlockingConnection(parameters=broker.parameters)
            self.channel = self.connection.channel()
            self.channel.basic_qos(prefetch_count=prefetch)
            self.channel.basic_consume(queue_name, self._delivered)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
            tracker.failed()
            raise ConnectionClosed(e) from None
        tracker.recovered()

    @property
    def idle(self) -> bool:
        """Connected and holding no delivery (none prefetched, running or held until due): RabbitMQ has
        nothing ready on this queue then, as it pushes what is ready to a consumer with room."""
        return self.channel.is_open and not self.known_tags

    # -- acknowledgements, gathered ------------------------------------------------------------------
    # Dramatiq's worker threads acknowledge each message with a callback of its own on the consumer's
    # connection (``add_callback_threadsafe``: a lock, a write to its wake pipe, a frame and a send each).
    # Here a worker thread records the outcome and schedules one flush while none is pending; the flush
    # (in the consumer thread, inside its wait for deliveries) sends the rejections one by one, then one
    # ``basic.ack`` with ``multiple`` for every acknowledged tag below the oldest still held, and the
    # others one by one. Nothing is acknowledged before its worker thread finished with it, and a flush
    # is scheduled at once, so an idle worker's acknowledgement is not delayed.
    def ack(self, message):
        self._settle(message, True)

    def nack(self, message):
        self._settle(message, False)

    def _settle(self, message, acknowledged: bool) -> None:
        with self.lock:
            try:
                self.known_tags.remove(message._tag)
            except KeyError:
                what = "ack" if acknowledged else "nack"
                self.logger.warning("Failed to %s message: not in known tags.", what)
                return
            self.settled.append((message._tag, acknowledged))
            schedule, self.settling = not self.settling, True
        if schedule:
            try:
                self.connection.add_callback_threadsafe(self._flush_settled)
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
                raise ConnectionClosed(e) from None

    def _flush_settled(self) -> None:
        with self.lock:
            batch, self.settled, self.settling = self.settled, [], False
            held = min(self.known_tags, default=None)
        acked = []
        for tag, acknowledged in batch:
            if acknowledged:
                acked.append(tag)
            else:
                self.channel.basic_nack(tag, requeue=False)
        below = [tag for tag in acked if held is None or tag < held]
        if below:
            self.channel.basic_ack(max(below), multiple=True)
        for tag in acked:
            if held is not None and tag > held:
                self.channel.basic_ack(tag)

    def _delivered(self, channel, method, properties, body) -> None:
        self.deliveries.append((method, properties, body))

    def _wait(self) -> float:
        """Seconds to wait for a delivery: the idle timeout, or less when a held delayed message is due
        sooner (the worker moves due messages between two calls of ``__next__``)."""
        while self.etas and self.etas[0][1] not in self.known_tags:
            heapq.heappop(self.etas)
        if not self.etas:
            return self.timeout
        return max(0.0, min(self.timeout, (self.etas[0][0] - current_millis()) / 1000))

    def __next__(self):
        try:
            if not self.deliveries:
                wait = self._wait()
                if wait > 0:
                    self.connection.process_data_events(time_limit=wait)
            if not self.deliveries:
                return None
            method, properties, body = self.deliveries.popleft()
        except (AssertionError, pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
            if getattr(e, "reply_code", None) == 404:
                self.broker.queues_pending.add(self.queue_name.removesuffix(".DQ"))
            tracker.failed()
            raise ConnectionClosed(e) from None
        tag = method.delivery_tag
        try:
            message = Message.decode(body)
        except DecodeError:
            reason = "undecodable: the message body is not a valid message"
            return self._discard(tag, body, reason, properties)
        reason = problem(message, self.queue_name, self.broker.actors)
        if reason is not None:
            return self._discard(tag, body, f"malformed: {reason}", properties, message)
        if method.redelivered and not self.queue_name.endswith(".DQ"):
            returns = self._returns(message, properties)
            if returns is not None and returns > self.broker.max_redeliveries:
                return self._poison(tag, body, message, returns)
        with self.lock:
            self.known_tags.add(tag)
        eta = message.options.get("eta")
        if isinstance(eta, (int, float)):
            heapq.heappush(self.etas, (int(eta), tag))
        return RabbitmqMessage(message, tag, method.redelivered)

    def _returns(self, message: Message, properties) -> int | None:
        """How often this message came back unacknowledged (a worker died holding it)."""
        headers = getattr(properties, "headers", None) or {}
        count = headers.get("x-delivery-count")
        if isinstance(count, int):
            return count
        if self.broker.redelivered is None:
            return None
        try:
            return self.broker.redelivered(message.message_id, self.queue_name)
        except Exception:  # the stores' Redis is down: run it rather than lose it
            self.logger.warning("could not count the redeliveries of %s", message.message_id, exc_info=True)
            return None

    def _poison(self, tag: int, body: bytes, message: Message, returns: int):
        self.logger.error(
            "Message %s on %r came back %d times (its worker died each time); moving it to the dead letters.",
            message.message_id,
            self.queue_name,
            returns,
        )
        return self._bury(
            tag, body, f"poison: its worker died on each of {returns} deliveries", runnable=True
        )

    def _discard(self, tag: int, body: bytes, reason: str, properties, message: Message | None = None):
        """Drop a delivery that cannot be run: dead-letter it with ``reason``, acknowledge it, then send
        Celery's ``task_rejected`` (``exc=None`` for a body that is no message)."""
        self.logger.error(
            "Message on %r cannot be run (%s); moving it to the dead letters.", self.queue_name, reason
        )
        self._bury(tag, body, reason, runnable=False)
        message_id = message.message_id if message is not None else None
        message_id = message_id or getattr(properties, "message_id", None) or f"delivery-{tag}"
        rejected(self, self.queue_name, message_id, body, reason, message)
        return None

    def _bury(self, tag: int, body: bytes, reason: str, *, runnable: bool):
        """Keep ``body`` in the dead-letter store, then acknowledge it.

        Without a store (or when it fails) the message is rejected into Dramatiq's ``<queue>.XQ``, where
        RabbitMQ keeps it for ``dramatiq_dead_message_ttl``: never run again, never lost silently.
        """
        try:
            if self.broker.unfit is None:
                raise LookupError("no dead-letter store")
            self.broker.unfit(body, reason, runnable)
        except Exception:
            self.logger.warning(
                "could not keep a dead letter in the store; rejecting it into %s.XQ",
                self.queue_name.removesuffix(".DQ"),
                exc_info=True,
            )
            self.channel.basic_nack(tag, requeue=False)
            return None
        self.channel.basic_ack(tag)
        return None

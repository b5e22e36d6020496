"""The RabbitMQ consumer: pushed deliveries, checked before a worker thread sees them, poison messages out.

RabbitMQ pushes messages to the consumer (``basic.consume``), so an idle worker makes no broker calls but
AMQP heartbeats, and a message sent to it starts at once. Messages are acknowledged after the task ran
(manual acks); when a worker process dies, RabbitMQ sees its connection close and hands what it held to
another consumer at once, flagged ``redelivered``.

Each delivery is checked like any other broker's (``compat.inbound``): one that cannot be run is kept in
the dead-letter store with the reason and acknowledged. A message that keeps coming back (its worker
dies on it each time) is a poison message: past ``worker_max_redeliveries`` returns it goes to the
dead-letter store instead of running again. Quorum queues count returns themselves
(``x-delivery-count``); for classic queues the broker's ``redelivered`` callback counts them.
"""

from __future__ import annotations

import pika.exceptions
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.message import Message

from ...inbound import problem
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

    def __init__(self, broker, queue_name, prefetch, timeout):
        super().__init__(broker, queue_name, prefetch, timeout)
        tracker.recovered()

    def __next__(self):
        try:
            method, properties, body = next(self.iterator)
        except (AssertionError, pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
            if getattr(e, "reply_code", None) == 404:
                self.broker.queues_pending.add(self.queue_name.removesuffix(".DQ"))
            tracker.failed()
            raise ConnectionClosed(e) from None
        if method is None:
            return None
        tag = method.delivery_tag
        try:
            message = Message.decode(body)
        except DecodeError:
            return self._discard(tag, body, "undecodable: the message body is not a valid message")
        reason = problem(message, self.queue_name, self.broker.actors)
        if reason is not None:
            return self._discard(tag, body, f"malformed: {reason}")
        if method.redelivered and not self.queue_name.endswith(".DQ"):
            returns = self._returns(message, properties)
            if returns is not None and returns > self.broker.max_redeliveries:
                return self._poison(tag, body, message, returns)
        self.known_tags.add(tag)
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

    def _discard(self, tag: int, body: bytes, reason: str):
        self.logger.error(
            "Message on %r cannot be run (%s); moving it to the dead letters.", self.queue_name, reason
        )
        return self._bury(tag, body, reason, runnable=False)

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

"""The RabbitMQ broker: Dramatiq's RabbitmqBroker with confirms, batches, native priorities, quorum queues.

What it adds to Dramatiq's:

* every publish is confirmed. A producer's send does not wait for its confirm (``confirms``: the message
  is kept until it comes, and sent again if it does not); in a worker, in a consumer thread and with
  ``broker_transport_options={"confirm_publish": True}`` a send returns once RabbitMQ has the message;
  a batch (a group, a chord header) is one AMQP transaction, committed in one round trip, all or nothing;
* a producer's pipelined send packs its frames and writes them to the socket itself (``wire``), where
  pika would spend more CPU on it than the facade does;
* a message's Celery ``priority`` is its AMQP priority (higher is more urgent, Celery's order on RabbitMQ)
  on queues declared with ``x-max-priority`` (``task_queue_max_priority``, 10 when unset);
* ``task_default_queue_type = "quorum"`` declares quorum queues with a delivery limit, so a message that
  kills its worker every time stops being delivered (see ``consumer``: it lands in our dead-letter store);
* a queue that already exists with other arguments is a clear configuration error, not a retry loop;
* queue depths for dashboards (``inspector``), a purge that leaves dead letters alone.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import current_millis, dq_name, q_name, xq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

from ...exceptions import EncodeError, ImproperlyConfigured, OperationalError
from ..base import FacadeBroker, QueueInspector, check_size, encode_message
from ..outage import tracker
from ..producers import ProducerSlots, in_consumer_thread
from . import confirms
from .confirms import MAX_SENDS, WINDOW, ConfirmReader, Pending, Pipeline
from .producers import PublisherState

#: ``x-max-priority`` of classic queues when ``task_queue_max_priority`` is unset (Celery's docs advise 10).
DEFAULT_MAX_PRIORITY = 10
#: Attempts per publish when the connection breaks (the first reconnects a connection the server closed).
PUBLISH_ATTEMPTS = 3
QUEUE_TYPES = ("classic", "quorum")
#: The longest task id a message can carry (its AMQP ``message_id`` is a short string).
MAX_ID_BYTES = 255

logger = logging.getLogger("compat.broker")


class CompatRabbitmqBroker(FacadeBroker, RabbitmqBroker):
    """RabbitmqBroker behind the facade's seam.

    Parameters:
      parameters: pika connection parameters, failover brokers in try order (``urls.from_conf``).
      queue_type: ``"classic"`` or ``"quorum"`` (Celery's ``task_default_queue_type``).
      max_priority: ``x-max-priority`` of classic queues (0: no priorities).
      delivery_limit: deliveries of one message a quorum queue allows before it dead-letters it itself.
      max_message_bytes: the largest encoded message ``enqueue`` sends (0: no limit).
      unfit: called with a raw body, the reason and whether it is a runnable task (a poison message)
        when the consumer will not run it: keeps it in the dead-letter store.
      redelivered: called with a redelivered message's id and queue; returns how often it came back
        (classic queues count in the stores' Redis; None: no count is kept).
      max_redeliveries: returns of one message past which it is a poison message.
      producers: the publishing slots (``broker_pool_limit``, ``producers.py``); None: no limit, a
        connection per publishing thread as in Dramatiq.
      confirm_each: every send waits for its confirm (kombu's ``confirm_publish``); else a producer's
        sends on pooled slots are pipelined (``confirms``). A worker process sets it when it boots.
    """

    connection_errors = (ConnectionClosed, pika.exceptions.AMQPConnectionError)
    #: The management API for queue depths (``broker_management_url``), when there is one.
    management_url: str | None = None
    delivery_options = ("eta",)

    def __init__(
        self,
        *,
        parameters: list[pika.ConnectionParameters],
        middleware: list | None = None,
        queue_type: str = "classic",
        max_priority: int = DEFAULT_MAX_PRIORITY,
        delivery_limit: int = 3,
        max_message_bytes: int = 0,
        unfit: Callable[[bytes, str, bool], None] | None = None,
        redelivered: Callable[[str, str], int] | None = None,
        max_redeliveries: int = 3,
        producers: ProducerSlots | None = None,
        confirm_each: bool = False,
    ) -> None:
        if queue_type not in QUEUE_TYPES:
            raise ImproperlyConfigured(f"task_default_queue_type {queue_type!r}: use 'classic' or 'quorum'")
        super().__init__(middleware=middleware, confirm_delivery=True)
        self.parameters = parameters
        self.queue_type = queue_type
        self.max_priority = max_priority if queue_type == "classic" and max_priority else None
        self.delivery_limit = delivery_limit
        self.max_message_bytes = max_message_bytes
        self.unfit = unfit
        self.redelivered = redelivered
        self.max_redeliveries = max_redeliveries
        self.producers = producers
        self.confirm_each = confirm_each
        if producers is not None:
            self.state = PublisherState()
        self._pipelined: list[Any] = []  # the slots that ever pipelined a send, for the reader and exit
        self._pipelined_lock = threading.Lock()
        self._pipelined_pid = os.getpid()
        self._reader: ConfirmReader | None = None

    @property
    def consumer_class(self):
        from .consumer import FacadeRabbitmqConsumer

        return FacadeRabbitmqConsumer

    def inspector(self) -> QueueInspector:
        from .inspector import RabbitmqQueueInspector

        return RabbitmqQueueInspector(self)

    # -- queues ------------------------------------------------------------------------------------
    def _build_queue_arguments(self, queue_name: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": xq_name(queue_name),
        }
        if self.queue_type == "quorum":
            arguments["x-queue-type"] = "quorum"
            # One more than the consumer's own cap: the consumer buries the message in our store first;
            # RabbitMQ's own limit only acts when that cannot happen (the store is down).
            arguments["x-delivery-limit"] = self.delivery_limit + 1
        elif self.max_priority:
            arguments["x-max-priority"] = self.max_priority
        return arguments

    def _ensure_queue(self, canonical_queue_name: str) -> None:
        """Declare the queue, its delay queue and Dramatiq's ``.XQ``; a queue that exists with other
        arguments (another ``x-max-priority`` or queue type) is a configuration error, said once."""
        try:
            super()._ensure_queue(canonical_queue_name)
        except ConnectionClosed as exc:
            cause = getattr(exc, "__cause__", None) or (exc.args[0] if exc.args else None)
            if getattr(cause, "reply_code", None) == 406:
                raise ImproperlyConfigured(
                    f"RabbitMQ queue {canonical_queue_name!r} exists with other arguments than this app "
                    f"declares ({self._build_queue_arguments(canonical_queue_name)}): {cause.reply_text}. "
                    "Match task_queue_max_priority / task_default_queue_type to it, or delete the queue "
                    "once it is drained."
                ) from None
            tracker.failed()
            raise

    # -- enqueue -----------------------------------------------------------------------------------
    def _priority(self, message: Message) -> int | None:
        """The AMQP priority of ``message``: its Celery priority, capped to the queue's maximum."""
        if self.max_priority is None:
            return None
        value = message.options.get("priority")
        if value is None:
            value = message.options.get("broker_priority")
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return max(0, min(value, self.max_priority))

    def _prepare(self, message: Message, delay: int | None) -> tuple[Message, str, bytes, Any]:
        if delay is not None:
            message = message.copy(
                queue_name=dq_name(message.queue_name), options={"eta": current_millis() + delay}
            )
        try:
            body = encode_message(message)
        except TypeError as exc:
            raise EncodeError(f"{message.actor_name}: message cannot be encoded as JSON: {exc}") from exc
        if self.max_message_bytes:
            check_size(message.actor_name, len(body), self.max_message_bytes)
        id_bytes = len(message.message_id.encode())
        if id_bytes > MAX_ID_BYTES:
            raise ValueError(
                f"{message.actor_name}: a task id of {id_bytes} bytes; RabbitMQ "
                f"message ids are AMQP short strings of at most {MAX_ID_BYTES} bytes. Nothing was sent."
            )
        properties = pika.BasicProperties(
            delivery_mode=2, priority=self._priority(message), message_id=message.message_id
        )
        return message, message.queue_name, body, properties

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        return self.enqueue_many([(message, delay)])[0]

    def enqueue_many(
        self, items: Iterable[tuple[Message, int | None]], *, owned: bool = False
    ) -> list[Message]:
        """Publish the messages, confirmed by RabbitMQ; nothing is sent if one of them cannot be encoded.

        One message is a confirmed publish: a producer's returns before the confirm, which is taken
        later (``confirms``); with ``confirm_each`` it returns after. Several are one transaction on a
        channel of their own:
        ``tx.commit`` returns once every message is routed to its durable queue (the guarantee a confirm
        gives), in one round trip, and a failure publishes none of them.
        """
        items = list(items)
        prepared = [self._prepare(message, delay) for message, delay in items]
        if not prepared:
            return []
        for entry in prepared:
            self.declare_queue(q_name(entry[0].queue_name))
        for entry, (_, delay) in zip(prepared, items, strict=True):
            self.emit_before("enqueue", entry[0], delay)
        if self.producers is None or in_consumer_thread() or self.state.holding():
            self._publish(prepared)
        else:
            with self.producers.hold() as slot, _guard(slot), self.state.using(slot):
                try:
                    if len(prepared) == 1 and self.pipelines:
                        self._publish_pipelined(prepared[0], slot)
                    else:
                        self._publish(prepared)
                finally:
                    if not self.producers.pooled:  # Celery's "no pool": a connection per publish
                        del self.connection
        for entry, (_, delay) in zip(prepared, items, strict=True):
            self.emit_after("enqueue", entry[0], delay)
        return [entry[0] for entry in prepared]

    def _publish(self, prepared: list[tuple[Message, str, bytes, Any]]) -> None:
        """Publish on this thread's connection (or the slot it holds), reconnecting when it broke."""
        for attempt in range(PUBLISH_ATTEMPTS):
            try:
                for message, _, _, _ in prepared:
                    self._ensure_queue(q_name(message.queue_name))
                if len(prepared) == 1:
                    _, routing_key, body, properties = prepared[0]
                    self.channel.basic_publish(
                        exchange="", routing_key=routing_key, body=body, properties=properties, mandatory=True
                    )
                else:
                    channel = self.batch_channel
                    for _, routing_key, body, properties in prepared:
                        channel.basic_publish(
                            exchange="", routing_key=routing_key, body=body, properties=properties
                        )
                    channel.tx_commit()
                break
            except pika.exceptions.NackError:
                raise OperationalError(
                    f"RabbitMQ refused the message for {prepared[0][1]!r} (a publisher nack: the queue is "
                    "at its length limit with overflow reject-publish, or the node is in trouble); not sent"
                ) from None
            except (
                pika.exceptions.AMQPConnectionError,
                pika.exceptions.AMQPChannelError,
                ConnectionClosed,
            ) as exc:
                del self.connection
                if isinstance(exc, pika.exceptions.UnroutableError):
                    for message, _, _, _ in prepared:
                        self.queues_pending.add(q_name(message.queue_name))
                if attempt + 1 >= PUBLISH_ATTEMPTS:
                    tracker.failed()
                    raise ConnectionClosed(exc) from None

    # -- pipelined confirms (``confirms``) ------------------------------------------------------------
    @property
    def pipelines(self) -> bool:
        """Whether a single send returns before its confirm (pooled slots, not ``confirm_each``)."""
        return not self.confirm_each and self.producers is not None and self.producers.pooled

    def _publish_pipelined(self, prepared: tuple[Message, str, bytes, Any], slot: Any) -> None:
        """Send one message on the held slot's pipeline, with what the slot still owes from a lost
        connection; returns without waiting for the confirm. A send that fails for good is not sent
        later (the caller got the error); what earlier sends owe stays for the next connection."""
        _, routing_key, body, properties = prepared
        pending = Pending(routing_key, body, properties)
        backlog = slot.__dict__.get("backlog")  # the held slot's own (``self.state`` is the slot now)
        if backlog is None:
            backlog = slot.backlog = []
        backlog.append(pending)
        for attempt in range(PUBLISH_ATTEMPTS):
            try:
                self._send_backlog(backlog, slot.__dict__.get("pipeline"))
                break
            except (pika.exceptions.AMQPError, ConnectionClosed) as exc:
                del self.connection  # what the pipeline owed goes back to the backlog
                if attempt + 1 >= PUBLISH_ATTEMPTS:
                    backlog[:] = [item for item in backlog if item is not pending]
                    tracker.failed()
                    raise ConnectionClosed(exc) from None
        self._track(slot)

    def _backlog(self) -> list[Pending]:
        backlog = getattr(self.state, "backlog", None)
        if backlog is None:
            backlog = self.state.backlog = []
        return backlog

    @property
    def pipeline(self) -> Pipeline:
        """The held slot's confirm-mode channel (a new one after its connection was lost)."""
        pipeline = getattr(self.state, "pipeline", None)
        if pipeline is None or not pipeline.is_open:
            if pipeline is not None:
                pipeline.hand_back(self._backlog())
                self.channels.discard(pipeline.channel)
            pipeline = self.state.pipeline = Pipeline(self.connection)
            self.channels.add(pipeline.channel)
        return pipeline

    def _send_backlog(self, backlog: list[Pending], pipeline: Pipeline | None = None) -> None:
        """Send the backlog on the pipeline (``pipeline``, the held slot's, when it is known and open; else
        ``self.pipeline``) and again what RabbitMQ refused, then keep within the window."""
        if pipeline is None or not pipeline.is_open:
            pipeline = self.pipeline
        while True:
            while backlog:
                self._ensure_queue(q_name(backlog[0].routing_key))
                try:
                    pipeline.send(backlog[0])  # counted unconfirmed before it goes: a failed send is kept
                finally:
                    del backlog[0]  # after the send counted it, so the count never reads low
            if not pipeline.settle_refused(lambda pending: self._refused(pending, backlog)):
                break
        pipeline.wait_below(WINDOW)

    def _refused(self, pending: Pending, backlog: list[Pending]) -> None:
        """A message RabbitMQ nacked or returned: back in ``backlog``, or reported once sent too often."""
        self.queues_pending.add(q_name(pending.routing_key))  # returned: declare it again
        if pending.sends >= MAX_SENDS:
            logger.error(
                "RabbitMQ refused message %s for %r %d times; it is not sent again",
                pending.message_id, pending.routing_key, pending.sends,
            )
        else:
            backlog.append(pending)

    def owed(self, slot: Any) -> int:
        """Messages sent on ``slot`` (or waiting to be sent again) that RabbitMQ has not confirmed (read
        after every pipelined send: counted, not listed)."""
        pipeline = slot.__dict__.get("pipeline")
        owed = len(slot.__dict__.get("backlog") or ())
        return owed + (len(pipeline.unconfirmed) + len(pipeline.refused) if pipeline is not None else 0)

    def unconfirmed(self) -> int:
        """Messages this process sent that RabbitMQ has not confirmed yet (a read of every slot)."""
        return sum(self.owed(slot) for slot in self._pipelined_slots())

    def _pipelined_slots(self) -> list[Any]:
        with self._pipelined_lock:
            if self._pipelined_pid != os.getpid():  # a forked child: the parent's connections are not its own
                self._pipelined, self._reader, self._pipelined_pid = [], None, os.getpid()
            return list(self._pipelined)

    def _track(self, slot: Any) -> None:
        """Remember a slot that pipelined a send, and wake the reader to read its confirms."""
        if not slot.__dict__.get("tracked"):
            self._pipelined_slots()  # resets after a fork
            with self._pipelined_lock:
                slot.tracked = True
                self._pipelined.append(slot)
                if self._reader is None:
                    self._reader = ConfirmReader(self._pipelined_slots, self._settle)
                    _flush_at_exit(self)
        self._reader.nudge()  # something was just sent: it is owed

    def _settle(self, slot: Any, wait: float = 0.0) -> bool:
        """Read ``slot``'s confirms (its guard held), sending again what is owed; whether it still owes."""
        if not self.owed(slot):
            return False
        with self.state.using(slot):
            try:
                pipeline = getattr(self.state, "pipeline", None)
                if self._backlog() or pipeline is None or not pipeline.is_open:
                    self._send_backlog(self._backlog())  # on a new pipeline when this one closed
                    pipeline = self.state.pipeline
                pipeline.read(wait)
                if pipeline.refused:
                    self._send_backlog(self._backlog())
            except (pika.exceptions.AMQPError, ConnectionClosed):
                del self.connection
                raise
        return bool(self.owed(slot))

    def flush_confirms(self, timeout: float | None = None) -> int:
        """Wait (at most ``timeout`` s, ``confirms.EXIT_WAIT`` by default) until RabbitMQ confirmed every
        message this process sent; logs and returns how many it did not."""
        timeout = confirms.EXIT_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        slots = self._pipelined_slots()
        while slots and time.monotonic() < deadline:
            for slot in list(slots):
                if not slot.guard.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                try:
                    if not self._settle(slot, wait=0.05):
                        slots.remove(slot)
                except Exception:
                    time.sleep(0.2)  # the broker is away: try again until the deadline
                finally:
                    slot.guard.release()
        left = [pending for slot in slots for pending in _owed_items(slot)]
        if left:
            logger.error(
                "%d message(s) sent to RabbitMQ were not confirmed within %.0fs and may be lost: %s",
                len(left), timeout, ", ".join(str(p.message_id) for p in left[:20]),
            )
        return len(left)

    def close(self) -> None:
        if self._pipelined_slots():
            self.flush_confirms()
        super().close()

    @property
    def batch_channel(self):
        """This thread's channel in transaction mode, for batches."""
        channel = getattr(self.state, "batch_channel", None)
        if channel is None or not channel.is_open:
            channel = self.connection.channel()
            channel.tx_select()
            self.state.batch_channel = channel
            self.channels.add(channel)
        return channel

    @RabbitmqBroker.connection.deleter
    def connection(self):
        batch = getattr(self.state, "batch_channel", None)
        if batch is not None:
            del self.state.batch_channel
            self.channels.discard(batch)
        pipeline = getattr(self.state, "pipeline", None)
        if pipeline is not None:  # what it owed is sent again on the next connection
            del self.state.pipeline
            self.channels.discard(pipeline.channel)
            pipeline.hand_back(self._backlog())
        RabbitmqBroker.connection.fdel(self)

    # -- queues, for control and dashboards --------------------------------------------------------
    def queue_counts(self, queue_name: str) -> tuple[int, int] | None:
        """``(messages ready, consumers)`` of a queue by a passive declare; None when it does not exist."""
        try:
            frame = self.channel.queue_declare(queue=queue_name, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            del self.channel
            if exc.reply_code == 404:
                return None
            raise
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            del self.connection
            raise ConnectionClosed(exc) from None
        return frame.method.message_count, frame.method.consumer_count

    def purge(self, queue_names: Iterable[str]) -> int:
        """Discard the ready messages of these queues and their delay queues (Dramatiq's ``.XQ`` and what
        workers hold stay)."""
        total = 0
        for base in sorted({q_name(name) for name in queue_names}):
            for name in (base, dq_name(base)):
                if self.queue_counts(name) is None:
                    continue
                total += self.channel.queue_purge(name).method.message_count
        return total

    def flush(self, queue_name: str) -> None:
        for name in (q_name(queue_name), dq_name(q_name(queue_name)), xq_name(q_name(queue_name))):
            try:
                self.channel.queue_purge(name)
            except pika.exceptions.AMQPChannelError:
                del self.channel


def _guard(slot: Any) -> threading.Lock:
    """``slot``'s guard, to hold while publishing on it: the confirm reader uses a slot only while nobody
    holds it. Made on first use; the slot is held, so no other thread makes one at the same time."""
    guard = slot.__dict__.get("guard")
    if guard is None:
        guard = slot.guard = threading.Lock()
    return guard


def _owed_items(slot: Any) -> list[Pending]:
    pipeline = slot.__dict__.get("pipeline")
    left = list(slot.__dict__.get("backlog") or ())
    if pipeline is not None:
        left += [*pipeline.unconfirmed.values(), *pipeline.refused]
    return left


def _flush_at_exit(broker: CompatRabbitmqBroker) -> None:
    """At interpreter exit, wait for the confirms ``broker`` is owed (not in a forked child's exit)."""
    ref = weakref.ref(broker)
    pid = os.getpid()

    def flush() -> None:
        live = ref()
        if live is not None and os.getpid() == pid:
            live.flush_confirms()

    atexit.register(flush)

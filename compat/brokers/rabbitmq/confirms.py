"""Publisher confirms without a round trip per send (kombu's ``confirm_publish`` off, the default).

RabbitMQ confirms every message published on a channel in confirm mode. Waiting for each confirm before
``delay()`` returns costs a round trip per send (about 0.75 ms here), which Celery (kombu's
``confirm_publish`` off) and stock Dramatiq (``confirm_delivery=False``) do not pay: they take no confirm
at all. A ``Pipeline`` keeps confirm mode but does not wait. A send returns once the message is written to
the connection, and the message stays in memory until its confirm arrives; a nack, a return (no queue took
it) or a connection lost before the confirm sends it again on the next connection. So a message may
arrive twice (at least once, as everywhere here), and it is not lost while the process lives.

What bounds it: at most ``WINDOW`` unconfirmed messages per connection (a send past that waits for
confirms); a reader thread (``ConfirmReader``) reads the confirms of connections nobody is publishing on,
so an idle producer holds nothing for long; at exit and in ``broker.close()`` the process waits for the
rest, at most ``EXIT_WAIT`` seconds, and logs the ids of any it could not get confirmed.

Where a send must be confirmed before what follows, it waits, as kombu does with ``confirm_publish``: in a
worker process (it acknowledges its own message after what it published, such as a chain's next step,
is confirmed), in a consumer thread moving a due delayed message, for a batch (one transaction), without
a pool (``broker_pool_limit=0``), and everywhere with ``broker_transport_options={"confirm_publish": True}``.

pika's ``BlockingChannel`` has no public way to take confirms without waiting for each, so the channel's
confirm mode is set on its underlying ``pika.channel.Channel`` (``_impl``, public API of that class);
``tests/compat/test_rabbitmq_confirms.py`` fails if a pika release changes that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import pika.spec

from .wire import SocketWriter

logger = logging.getLogger("compat.broker")

#: Unconfirmed messages a connection may carry before a send waits for confirms.
WINDOW = 1000
#: Seconds the process waits at exit (and in ``broker.close()``) for the confirms still owed.
EXIT_WAIT = 10.0
#: Seconds the reader lets a busy publisher read its own confirms before it looks.
READ_AFTER = 0.02
#: Seconds between the reader's attempts while the broker cannot be reached (doubling up to this).
RETRY_MAX = 2.0
#: Sends of one message (nacked or returned each time) before it is given up, with an error logged.
MAX_SENDS = 3
#: Seconds to wait for RabbitMQ's ``Confirm.SelectOk``.
SELECT_WAIT = 10.0
#: Sends written to the socket (``wire``) between two reads of what arrived (confirms, heartbeats).
READ_EVERY = 64


@dataclass(slots=True)
class Pending:
    """A message sent (or to send) and not yet confirmed."""

    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    sends: int = 0

    @property
    def message_id(self) -> str | None:
        return self.properties.message_id


class Pipeline:
    """A channel in confirm mode and the messages sent on it that RabbitMQ has not confirmed yet.

    Used by one thread at a time (the holder of its producer slot, or the reader while nobody holds it).
    """

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self.connection = connection
        self.channel = connection.channel()
        self.writer = SocketWriter.attach(self.channel)
        self.unconfirmed: dict[int, Pending] = {}  # delivery tag -> message, in tag order
        self.refused: list[Pending] = []  # nacked or returned: to send again
        self._returned: set[str] = set()
        self._tag = 0
        selected: list[Any] = []
        impl = self.channel._impl
        impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=selected.append)
        impl.add_on_return_callback(self._on_return)
        deadline = time.monotonic() + SELECT_WAIT
        while not selected:
            if time.monotonic() > deadline:
                raise pika.exceptions.AMQPConnectionError("RabbitMQ did not answer Confirm.Select")
            connection.process_data_events(time_limit=0.1)

    @property
    def is_open(self) -> bool:
        return self.channel.is_open

    def send(self, pending: Pending) -> None:
        """Publish ``pending``; it is counted unconfirmed first, so a send that breaks is sent again (one
        that cannot be framed is not counted and raises)."""
        self._tag += 1
        tag = self._tag
        self.unconfirmed[tag] = pending
        pending.sends += 1
        try:
            writer = self.writer
            if writer is not None and writer.publish(pending.routing_key, pending.body, pending.properties):
                if not tag % READ_EVERY:
                    self.read()
                return
            self.channel.basic_publish(
                exchange="",
                routing_key=pending.routing_key,
                body=pending.body,
                properties=pending.properties,
                mandatory=True,
            )
        except (pika.exceptions.AMQPError, OSError):
            raise  # the connection broke: the message stays owed and goes again on the next one
        except Exception:
            # It could not be framed (both encoders frame before they write): RabbitMQ saw nothing, so
            # the tag is not used and nothing is owed.
            del self.unconfirmed[tag]
            self._tag -= 1
            raise

    def read(self, wait: float = 0.0) -> None:
        """Take the confirms that have arrived (waiting up to ``wait`` seconds for more)."""
        self.connection.process_data_events(time_limit=wait)

    def wait_below(self, limit: int) -> None:
        """Read confirms until at most ``limit`` messages are unconfirmed."""
        while len(self.unconfirmed) > limit:
            self.read(0.05)

    def settle_refused(self, handle: Callable[[Pending], None]) -> bool:
        """Hand each refused message to ``handle`` (sent again or reported), then drop it; whether there
        was any. A message stays counted until handled, so a reader of the count never sees 0 while a
        refusal is still unreported."""
        settled = False
        while self.refused:
            handle(self.refused[0])
            del self.refused[0]
            settled = True
        return settled

    def hand_back(self, backlog: list[Pending]) -> None:
        """Put everything not confirmed at the front of ``backlog``, in send order (the connection is gone:
        all of it goes again). Added there before it is dropped here, so the count never reads low."""
        backlog[:0] = [*self.unconfirmed.values(), *self.refused]
        self.unconfirmed.clear()
        self.refused = []

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        refused = isinstance(method, pika.spec.Basic.Nack)
        if method.multiple:  # every tag up to this one; the dict is in tag order
            tags = []
            for tag in self.unconfirmed:
                if tag > method.delivery_tag:
                    break
                tags.append(tag)
        else:
            tags = [method.delivery_tag]
        for tag in tags:
            pending = self.unconfirmed.pop(tag, None)
            if pending is None:
                continue
            if refused or pending.message_id in self._returned:
                self._returned.discard(pending.message_id)
                self.refused.append(pending)

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        # A mandatory message no queue took (its queue was deleted): its ack follows; send it again then.
        if properties.message_id:
            self._returned.add(properties.message_id)


class ConfirmReader:
    """A daemon thread reading the confirms of pipelines nobody is publishing on, nudged by each send.

    ``settle(slot)`` is the broker's: it reads (and re-sends) on one slot it holds and says whether that
    slot still owes confirms. Idle (nothing owed), the thread waits on an event and makes no broker calls.
    """

    def __init__(self, slots: Callable[[], list[Any]], settle: Callable[[Any], bool]) -> None:
        self.slots = slots
        self.settle = settle
        self.woken = threading.Event()
        self.thread = threading.Thread(target=self._run, name="compat-confirms", daemon=True)
        self.thread.start()

    def nudge(self) -> None:
        # Only when not set already (a plain read): the thread clears it on waking, then reads until
        # nothing is owed, so a send that finds it set is read by the pass running now or the next.
        if not self.woken.is_set():
            self.woken.set()

    def _run(self) -> None:
        while True:
            self.woken.wait()
            self.woken.clear()
            pause = READ_AFTER
            while True:
                time.sleep(pause)
                owed, failed = self._pass()
                if not owed:
                    break
                pause = min(pause * 2, RETRY_MAX) if failed else READ_AFTER

    def _pass(self) -> tuple[bool, bool]:
        owed = failed = False
        for slot in self.slots():
            if not slot.guard.acquire(blocking=False):
                owed = True  # its holder reads its confirms
                continue
            try:
                owed = self.settle(slot) or owed
            except Exception:
                owed = failed = True
                logger.debug("reading publisher confirms failed; trying again", exc_info=True)
            finally:
                slot.guard.release()
        return owed, failed

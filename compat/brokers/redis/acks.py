"""A worker process's acknowledgements, carried by its consumers' next fetch instead of a call each.

Dramatiq acknowledges each message with a script call of its own from the worker thread that ran it:
one round trip per message, some 50-65 us of CPU in redis-py and the kernel, a fifth of a trivial
task's cost. Here a worker thread puts its acknowledgement in the process's waiting list and goes on;
a consumer that is awake (fetching, or about to) runs the waiting ones at the start of its next fetch
script, in the same round trip; under load that fetch comes as soon as a quarter of the prefetch is
free. When no consumer is awake (all asleep on their wake lists: the worker is idle), the worker thread
sends its acknowledgement itself, at once, as before.

What holds:

* an acknowledgement is queued only by Dramatiq's ``post_process_message``, after every middleware
  hook: after its task finished and its state was stored;
* a crash before it is sent leaves the message in this worker's ack set, and the maintenance of a live
  worker gives it back: the task runs again, it is never lost;
* it waits at most until the next fetch or ``LaneConsumer.FULL_WAIT`` (a consumer whose prefetch stays
  full sends the waiting ones itself after that wait), a consumer sends the waiting ones before it
  sleeps on its wake list or closes, and each maintenance pass sends any left (``flush``);
* a call that fails puts its acknowledgements back (running one twice is harmless: the second finds
  the id gone from the ack set and leaves the body alone).
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq.common import current_millis

from .scripts import lua


class PendingAcks:
    """The waiting acknowledgements of one ``CompatRedisBroker`` and which of its consumers are awake."""

    def __init__(self, broker: Any) -> None:
        self.broker = broker
        self.script = broker.client.register_script(lua("acks", "ack_many"))
        self.lock = threading.Lock()
        self.waiting: list[tuple[str, str]] = []  # (list name, Redis message id)
        self.awake: set[int] = set()  # id() of the consumers that will fetch or flush soon
        #: Acknowledgements sent, and the calls they took (a fetch that carried some counts one).
        self.sent = 0
        self.calls = 0

    def ack(self, list_name: str, rid: str) -> None:
        """Acknowledge ``rid`` of ``list_name``: left to an awake consumer, or sent now when none is."""
        with self.lock:
            self.waiting.append((list_name, rid))
            carried = bool(self.awake)
        if not carried:
            self.flush()

    def wake(self, consumer: Any) -> None:
        """``consumer`` fetches again: it carries the waiting acknowledgements from now on."""
        with self.lock:
            self.awake.add(id(consumer))

    def sleep(self, consumer: Any) -> None:
        """``consumer`` is about to block (or close): send what waits, so nothing waits on its sleep."""
        with self.lock:
            self.awake.discard(id(consumer))
        self.flush()

    def take(self) -> list[tuple[str, str]]:
        """Every waiting acknowledgement, for a fetch to carry (``give_back`` if that call fails)."""
        with self.lock:
            batch, self.waiting = self.waiting, []
        return batch

    def give_back(self, batch: list[tuple[str, str]]) -> None:
        with self.lock:
            self.waiting[:0] = batch

    def flush(self) -> None:
        """Send every waiting acknowledgement in one call (none: no call)."""
        batch = self.take()
        if not batch:
            return
        keys, args = self.layout(batch)
        try:
            broker = self.broker
            self.script(keys=[broker.heartbeats_key, *keys], args=[current_millis(), broker.broker_id, *args])
        except BaseException:
            self.give_back(batch)
            raise
        self.counted(batch)

    def counted(self, batch: list[tuple[str, str]]) -> None:
        self.sent += len(batch)
        self.calls += 1

    def layout(self, batch: list[tuple[str, str]]) -> tuple[list[str], list[Any]]:
        """The keys (ack set, bodies' hash per list) and arguments (count, ids per list) of ``batch``."""
        broker = self.broker
        by_list: dict[str, list[str]] = {}
        for list_name, rid in batch:
            by_list.setdefault(list_name, []).append(rid)
        keys: list[str] = []
        args: list[Any] = []
        for list_name, rids in by_list.items():
            keys += [broker.acks_key(broker.broker_id, list_name), broker.key(f"{list_name}.msgs")]
            args += [len(rids), *rids]
        return keys, args

"""The Redis broker's consumer: one queue and its priority lanes, asleep on a wake list when idle."""

from __future__ import annotations

import heapq
import threading
import time

import redis
from dramatiq.brokers.redis import _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.message import Message

from ...inbound import problem, rejected
from ..base import FieldsProxy
from ..outage import tracker
from .lanes import lane_queue
from .queue_order import GATED_WAIT, lane_step, top_step


class LaneConsumer(_RedisConsumer):
    """Consumer of one queue and its lanes that sleeps on the wake list instead of polling.

    Acks and nacks go to the lane list the message was fetched from (its ``options["lane"]``). Under a
    ``queue_order_strategy`` of ``priority`` or ``sorted`` it fetches only the lanes that earlier queues
    leave it (``queue_order.py``); ``top_ready`` is what it tells the later ones.
    """

    LANE_REFRESH_SECONDS = 10.0
    FULL_WAIT = 0.05
    #: The longest idle wait once the worker is stopping (it stops the consumers when its tasks are done).
    STOPPING_WAIT = 0.1

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
        #: The highest priority step its last fetch found messages at (None: none); before the first
        #: fetch, assumed the top one.
        self.top_ready: int | None = top_step(broker)
        self.gated = False
        self.acks = broker.acks
        self.acks.wake(self)  # it fetches first: the worker threads' acknowledgements ride on its fetches

    def _refresh_lanes(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.lanes_checked > self.LANE_REFRESH_SECONDS:
            self.lanes = self.broker.lanes_of(self.queue_name)
            self.lanes_checked = now

    def _list_of(self, message) -> str:
        return lane_queue(self.queue_name, message.options.get("lane", ""))

    def ack(self, message):
        if getattr(message, "acked", False):  # acknowledged by its state write (``TaskState``)
            self._release(message)
            return
        try:
            self.acks.ack(self._list_of(message), message.options["redis_message_id"])
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None  # Dramatiq retries it; the waiting ones stay queued
        finally:
            self._release(message)

    def close(self):
        """Send the acknowledgements still waiting; the worker threads send their own from now on."""
        try:
            self.acks.sleep(self)
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None  # they stay queued for the next call that gets through
        finally:
            super().close()

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
        if not self.slots_freed.wait(self.FULL_WAIT):
            self.acks.flush()  # no fetch soon: what waited for one goes now
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
        order = self.broker.queue_order
        below = order.fetch_below(self.broker, self.queue_name) if order is not None else None
        fetched: list[tuple[str, str, bytes | None]] = []
        top = None
        self.gated = False
        carried = False
        for lane in self.lanes:
            if len(fetched) >= wanted:
                break
            step = lane_step(self.broker, lane)
            if below is not None and step >= below:
                self.gated = True
                break
            name = lane_queue(self.queue_name, lane)
            self.lane_of_list[name] = lane
            if carried:
                got = self.broker.fetch(name, wanted - len(fetched))
            else:  # the round's first fetch carries the acknowledgements waiting for one
                carried, acks = True, self.acks.take()
                try:
                    got = self.broker.fetch(name, wanted - len(fetched), acks)
                except BaseException:
                    self.acks.give_back(acks)
                    raise
                if acks:
                    self.acks.counted(acks)
            if got and top is None:
                top = step
            fetched.extend((name, rid, data) for rid, data in got)
        self.top_ready = top
        return fetched

    def take_back(self, previous: LaneConsumer) -> None:
        """Requeue what ``previous`` (a consumer of the same queue that broke) held but never handed out."""
        lost: dict[str, list[str]] = {}
        for list_name, rid, _ in previous.message_cache:
            lost.setdefault(list_name, []).append(rid)
        if self.queue_name.endswith(".DQ"):
            for lane in self.broker.lanes_of(self.queue_name):
                name = lane_queue(self.queue_name, lane)
                acks = self.broker.acks_key(self.broker.broker_id, name)
                lost.setdefault(name, []).extend(rid.decode() for rid in self.broker.client.smembers(acks))
        for list_name, rids in lost.items():
            if rids:
                self.broker.do_requeue(list_name, *set(rids))
        previous.message_cache = []

    def _discard(
        self, list_name: str, rid: str, data: bytes | None, reason: str, message: Message | None = None
    ) -> None:
        """Drop a message that cannot be run: dead-letter its raw body with ``reason``, ack it, then send
        Celery's ``task_rejected``."""
        self.logger.error(
            "Message %s on %r cannot be run (%s); moving it to the dead letters.", rid, list_name, reason
        )
        if data is not None and self.broker.unfit is not None:
            self.broker.unfit(rid, data, reason)
        self.broker.do_ack(list_name, rid)
        rejected(self, list_name, rid, data, reason, message)

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
            self._discard(list_name, rid, data, f"malformed: {reason}", message)
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
                    if self.gated:  # an earlier queue has work: look again soon, not on the wake list
                        time.sleep(GATED_WAIT)
                    else:
                        self.acks.sleep(self)  # what waits goes now; the worker threads send their own
                        self._idle()
                        self.acks.wake(self)
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
        if self.broker.stopping:
            wait = min(wait, self.STOPPING_WAIT)
        woken = self.broker.client.blpop([self.wake_key, self.broker.stop_key], timeout=wait)
        if woken and woken[0].decode() == self.broker.stop_key:
            return
        if woken and woken[1] not in (b"-", b""):
            lane = woken[1].decode()
            if lane not in self.lanes:
                self._refresh_lanes(force=True)

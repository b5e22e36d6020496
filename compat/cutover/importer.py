"""Move what Celery's Redis still holds into compat's queues, once.

Each batch is taken out of Celery's keys into a staging list by one script call (``kombu_redis``), then
each message is sent through the compat app's public API (``app.send_task`` with its original id,
arguments, ETA, expiry, priority, retries and canvas links) or, when compat cannot carry it (a pickle
body, a task the app does not know, a chord member), kept in compat's dead-letter store with the reason;
only then is its id recorded as moved and the message dropped from the staging list. A run that dies
half-way leaves the rest in the staging list, which the next run finishes first; an id already recorded
is never sent twice. (A crash between the send and its record can send that one message again: compat
tasks are at-least-once anyway.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..deadletters import build_record, store_for
from ..exceptions import EncodeError, NotRegistered
from .celery_message import Carried, Uncarriable, decode
from .kombu_redis import CeleryRedis, Staged


@dataclass
class Outcome:
    """What one run did (or, with ``dry_run``, would do)."""

    moved: Counter = field(default_factory=Counter)  # by queue
    from_unacked: int = 0
    dead: list[dict[str, Any]] = field(default_factory=list)  # {"id", "task", "queue", "reason"}
    already_moved: int = 0
    unconsumed_queues: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.moved.values()) + len(self.dead) + self.already_moved


@dataclass
class Importer:
    """Moves messages from ``source`` (Celery's Redis) into ``app``'s broker."""

    app: Any
    source: CeleryRedis
    queues: list[str]
    rename: dict[str, str] = field(default_factory=dict)
    send_unregistered: bool = False
    batch: int = 100
    progress: Callable[[int, int], None] = lambda done, total: None

    def __post_init__(self) -> None:
        self.store = store_for(self.app)
        if self.store is None:
            raise ValueError("the app's broker keeps no dead-letter store (memory://): use its Redis broker")
        self.consumed = set(self.app.routed_queues())

    def dry_run(self) -> Outcome:
        """What ``run`` would do, touching nothing."""
        outcome = Outcome()
        messages = list(self.source.peek(self.queues))
        for done, (origin, queue, payload) in enumerate(messages, 1):
            self._judge(decode(payload, queue), origin, outcome)
            self.progress(done, len(messages))
        return outcome

    def run(self) -> Outcome:
        """Move every message (leftovers of an interrupted run first), in batches."""
        outcome = Outcome()
        leftovers = self.source.staged()
        total = len(leftovers) + self.source.pending(self.queues)
        done = 0
        batch = leftovers or self.source.claim(self.queues, self.batch)
        while batch:
            for staged in batch:
                self._move(staged, outcome)
                done += 1
                self.progress(done, max(total, done))
            batch = self.source.claim(self.queues, self.batch)
        return outcome

    # -- one message ---------------------------------------------------------------------------------
    def _move(self, staged: Staged, outcome: Outcome) -> None:
        message = decode(staged.payload, staged.queue)
        task_id = message.task_id
        if task_id and self.source.was_moved(task_id):
            outcome.already_moved += 1
            self.source.done(staged, None)
            return
        verdict = self._judge(message, staged.origin, outcome)
        if isinstance(verdict, Carried):
            try:
                self._send(verdict)
            except (NotRegistered, EncodeError, ValueError, TypeError) as exc:
                # a bare name send_task cannot resolve (--send-unregistered), a message over
                # task_message_max_bytes, an ETA that is no date: kept, with the reason, not retried forever
                outcome.moved[verdict.queue] -= 1
                outcome.from_unacked -= staged.origin == "unacked"
                verdict = self._judge(
                    Uncarriable(
                        f"cannot be sent: {exc}", "", verdict.queue, task_id, verdict.name, carried=verdict
                    ),
                    staged.origin,
                    outcome,
                )
        if isinstance(verdict, Uncarriable):
            self.store.add(self._record(verdict))
        self.source.done(staged, task_id)

    def _judge(self, message: Carried | Uncarriable, origin: str, outcome: Outcome) -> Carried | Uncarriable:
        """Count ``message`` as moved or dead, and return what to do with it."""
        if isinstance(message, Carried):
            message.queue = self.rename.get(message.queue, message.queue)
            if not self.send_unregistered and not self._registered(message.name):
                message = Uncarriable(
                    f"task {message.name!r} is not registered in the app (--send-unregistered sends it)",
                    "",
                    message.queue,
                    message.task_id,
                    message.name,
                    carried=message,
                )
        if isinstance(message, Carried):
            outcome.moved[message.queue] += 1
            outcome.from_unacked += origin == "unacked"
            if message.queue not in self.consumed:
                outcome.unconsumed_queues.add(message.queue)
        else:
            outcome.dead.append(
                {
                    "id": message.task_id,
                    "task": message.name,
                    "queue": message.queue,
                    "reason": message.reason,
                }
            )
        return message

    def _registered(self, name: str) -> bool:
        return name in self.app.tasks

    def _send(self, message: Carried) -> None:
        self.app.send_task(
            message.name,
            args=message.args,
            kwargs=message.kwargs,
            task_id=message.task_id,
            queue=message.queue,
            add_to_parent=False,
            task_type=self.app.tasks.get(message.name),
            **message.options,
        )

    def _record(self, message: Uncarriable) -> dict[str, Any]:
        """A dead-letter record: the task's id and name when known, the Celery message kept as text."""
        reason = f"import-celery: {message.reason}"
        carried = message.carried
        if carried is not None:  # an unregistered task: a real compat message, requeueable once registered
            try:
                built, _ = self.app.build_message(
                    carried.name,
                    carried.args,
                    carried.kwargs,
                    task_id=carried.task_id,
                    queue=carried.queue,
                    **carried.options,
                )
            except (ValueError, TypeError):  # an option that does not parse: keep the plain call
                built, _ = self.app.build_message(
                    carried.name, carried.args, carried.kwargs, task_id=carried.task_id, queue=carried.queue
                )
            return build_record(built, reason=reason)
        record = build_record(None, reason=reason, raw=message.raw.encode("utf-8"))
        if message.task_id:
            record.update(id=message.task_id, task=message.name, queue=message.queue)
        record["celery_message"], record["message"] = record["message"], None  # not a compat message
        return record

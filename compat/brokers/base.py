"""What every facade broker offers on top of ``dramatiq.Broker``: the seam the rest of compat talks to.

The app, the middleware and the dashboard never reach into a broker's storage. They use this contract:

* hook dispatch that calls only the middleware hooks that are defined (``DefinedHooks``);
* ``enqueue_many``: a batch sent at once, all or nothing when a message cannot be encoded;
* ``connection_errors``: the exceptions that mean "the broker cannot be reached" (``send_task`` turns them
  into ``OperationalError``);
* ``delivery_options``: options the broker adds to a message for one delivery, dropped when the message
  is sent again (a retry, a requeued dead letter);
* ``inspector()``: a ``QueueInspector`` reading queue depths for dashboards.

A message's priority is a plain number in ``options["priority"]``; what it means for delivery (the Redis
broker's lanes) is the broker's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.message import Message
from dramatiq.middleware import Middleware, MiddlewareError

from ..exceptions import EncodeError


def encode_message(message: Message) -> bytes:
    """``message.encode()``, with its fields named directly (``Message.asdict`` walks
    ``dataclasses.fields`` on every call); a subclass of ``Message`` encodes itself."""
    if type(message) is not Message:
        return message.encode()
    return dramatiq.get_encoder().encode(
        {
            "queue_name": message.queue_name,
            "actor_name": message.actor_name,
            "args": message.args,
            "kwargs": message.kwargs,
            "options": message.options,
            "message_id": message.message_id,
            "message_timestamp": message.message_timestamp,
        }
    )


#: Longest text of a message in a worker's log lines (``Failed to process message ...``).
LOGGED_CHARS = 1000


def check_size(task_name: str, size: int, limit: int) -> None:
    """Refuse, at the call site, a message too big to be a good idea on any broker."""
    if size > limit:
        raise EncodeError(
            f"{task_name}: the message is {size:,} bytes, over the limit of {limit:,} bytes "
            "(task_message_max_bytes): pass a reference to the data (a database id, a file path) "
            "instead of the data itself, or raise the limit"
        )


class DefinedHooks:
    """Mixin for ``dramatiq.Broker`` subclasses: ``emit_before``/``emit_after`` skip no-op hooks.

    Dramatiq's ``Broker.emit_before``/``emit_after`` call every hook of every middleware, most of them the
    base class's no-ops: with the facade's fifteen middleware that is about a hundred Python calls per
    message, a few percent of a no-op task's cost. This keeps, per hook name, the bound methods that a
    middleware actually overrides, and calls only those, with Dramatiq's exact error handling.

    The cache is keyed by the hook name and the middleware count, so ``add_middleware`` (or removing one
    from ``broker.middleware``) is seen at once; replacing an entry in place, which changes no count, is
    not: clear ``broker._hook_cache`` after doing that.
    """

    middleware: list[Middleware]
    logger: Any

    def _hooks(self, name: str) -> list:
        """The bound ``name`` hooks of the middleware that define one, in middleware order."""
        cache = self.__dict__.get("_hook_cache")
        if cache is None:
            cache = self._hook_cache = {}
        key = (name, len(self.middleware))
        hooks = cache.get(key)
        if hooks is None:
            base = getattr(Middleware, name, None)
            hooks = [
                getattr(m, name)
                for m in self.middleware
                if name in vars(m) or getattr(type(m), name, None) is not base
            ]
            cache[key] = hooks
        return hooks

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        name = "before_" + signal
        for hook in self._hooks(name):
            try:
                hook(self, *args, **kwargs)
            except MiddlewareError:
                raise
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, hook.__self__, exc_info=True)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        name = "after_" + signal
        for hook in reversed(self._hooks(name)):
            try:
                hook(self, *args, **kwargs)
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, hook.__self__, exc_info=True)


@dataclass
class QueueDepth:
    """What one queue holds: waiting, delayed, held by workers (running or prefetched), dead-lettered.

    ``lanes`` names the queue's priority lanes in use, when the broker has any.
    """

    name: str
    ready: int = 0
    delayed: int = 0
    in_progress: int = 0
    dead: int = 0
    lanes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class QueueInspector:
    """Reads queue depths from a broker, for dashboards and metrics; never on a message's path."""

    #: Whether the depths this inspector reads are all 0 for the queues of a worker that consumes them and
    #: holds nothing: the broker pushes what is ready to a consumer with room, so there is nothing to read.
    #: Such a worker's depth sample is then written without asking the broker.
    idle_depths_known: bool = False

    def depths(self, queues: Iterable[str], dead: Mapping[str, int] | None = None) -> list[QueueDepth]:
        """One ``QueueDepth`` per queue name, in order.

        Parameters:
          queues: base queue names (without ``.DQ``).
          dead: dead-letter counts by queue; dead letters live in the facade's dead-letter store, not in
            the broker, so the caller passes them in.
        """
        raise NotImplementedError


class FacadeBroker(DefinedHooks):
    """Mixin for the facade's ``dramatiq.Broker`` subclasses: the contract in this module's docstring."""

    #: Exceptions raised when the broker cannot be reached.
    connection_errors: tuple[type[BaseException], ...] = ()
    #: Options set by the broker for one delivery (Dramatiq's ``eta`` of a delayed message).
    delivery_options: tuple[str, ...] = ("eta",)

    def enqueue_many(
        self, items: Iterable[tuple[Message, int | None]], *, owned: bool = False
    ) -> list[Message]:
        """Enqueue ``(message, delay in ms or None)`` pairs; brokers that can do it in one call override this.

        Parameters:
          items: the messages and their delays.
          owned: the caller built these messages for this one send, so the broker may update their
            options in place instead of copying them.
        """
        return [self.enqueue(message, delay=delay) for message, delay in items]  # type: ignore[attr-defined]

    def inspector(self) -> QueueInspector:
        """A reader of this broker's queue depths."""
        raise NotImplementedError(f"{type(self).__name__} has no queue inspector")

    def purge(self, queue_names: Iterable[str]) -> int:
        """Discard the messages waiting in these queues (every lane, and the delayed ones no worker holds
        yet), as ``app.control.purge()`` does; messages workers hold are left alone. The count discarded."""
        raise NotImplementedError(f"{type(self).__name__} cannot purge queues")


class FieldsProxy(MessageProxy):
    """A ``MessageProxy`` holding the message's fields as its own attributes.

    Dramatiq's proxy forwards every attribute read through ``__getattr__``; the middleware reads a
    message's fields a few dozen times while processing it. ``Message`` is frozen, so copying them once
    is safe. ``acked`` is set once the message was acknowledged together with its state write (a broker's
    ``inline_ack``): its consumer then only frees the prefetch slot.
    """

    #: whether the broker delivered this message before (RabbitMQ's flag; Celery's ``delivery_info``)
    redelivered = False
    acked = False

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

"""Celery's signals: the same names, the same dispatch semantics, sent at the same moments.

A receiver is connected with ``signal.connect(fn)`` or ``@signal.connect(sender=..., weak=...,
dispatch_uid=...)``, must accept ``**kwargs``, and is called as ``fn(signal=..., sender=..., **named)``.
``sender=`` filters by identity (a task object for the task signals) or, for strings, by equality (the
task name for the publish signals), exactly as Celery's ``_make_id`` does. ``send`` returns
``[(receiver, answer), ...]``; a receiver that raises is logged and its exception is its answer, so a
failing receiver never breaks the task that sent the signal.

Senders check ``signal.receivers`` before building keyword arguments, so a signal nobody listens to costs
one attribute test.
"""

from __future__ import annotations

import inspect
import logging
import threading
import warnings
import weakref
from collections.abc import Callable, Hashable
from typing import Any

logger = logging.getLogger("compat.signals")

__all__ = [
    "Signal",
    "before_task_publish",
    "after_task_publish",
    "task_received",
    "task_prerun",
    "task_postrun",
    "task_success",
    "task_retry",
    "task_failure",
    "task_internal_error",
    "task_revoked",
    "task_rejected",
    "task_unknown",
    "task_sent",
    "celeryd_init",
    "celeryd_after_setup",
    "import_modules",
    "worker_init",
    "worker_before_create_process",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_ready",
    "worker_shutdown",
    "worker_shutting_down",
    "heartbeat_sent",
    "setup_logging",
    "after_setup_logger",
    "after_setup_task_logger",
    "beat_init",
    "beat_embedded_init",
    "user_preload_options",
]


def _make_id(target: Any) -> Hashable:
    """What identifies a receiver or a sender: strings by value, bound methods by (instance, function)."""
    if isinstance(target, (bytes, str)):
        return target
    if hasattr(target, "__func__"):
        return (id(getattr(target, "__self__", None)), id(target.__func__))
    return id(target)


_NONE_ID = _make_id(None)


def _accepts_kwargs(fn: Callable) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let it be
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class Signal:
    """A signal: receivers connect to it, senders ``send`` it (Celery's ``celery.utils.dispatch.Signal``).

    Parameters:
      providing_args: the keyword arguments the signal documents (informational, as in Celery).
      name: the signal's name, for ``repr``.
    """

    def __init__(
        self, providing_args: Any = None, use_caching: bool = False, name: str | None = None
    ) -> None:
        self.receivers: list[tuple[tuple[Hashable, Hashable], Any]] = []
        self.providing_args = set(providing_args or ())
        self.use_caching = use_caching
        self.name = name
        self.lock = threading.Lock()
        self._dead = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        """Connect a receiver: ``connect(fn, sender=None, weak=True, dispatch_uid=None)`` or as a decorator.

        A receiver already connected under the same key (its ``dispatch_uid``, else itself, with the
        sender) is not added twice.
        """

        def options(
            sender: Any = None, weak: bool = True, dispatch_uid: Hashable = None, retry: bool = False
        ):
            if retry:
                raise ValueError(
                    "compat signals do not retry receivers (connect(retry=True)); see docs/compat.md"
                )

            def connect(fn: Callable) -> Callable:
                self._connect(fn, sender, weak, dispatch_uid)
                return fn

            return connect

        if args and callable(args[0]):
            return options(*args[1:], **kwargs)(args[0])
        return options(*args, **kwargs)

    def _connect(self, receiver: Callable, sender: Any, weak: bool, dispatch_uid: Hashable) -> None:
        if not callable(receiver):
            raise TypeError("Signal receivers must be callable")
        if not _accepts_kwargs(receiver):
            raise ValueError("Signal receiver must accept keyword arguments.")
        key = (dispatch_uid or _make_id(receiver), _make_id(sender))
        held: Any = receiver
        if weak:
            bound = hasattr(receiver, "__func__") and hasattr(receiver, "__self__")
            held = weakref.WeakMethod(receiver) if bound else weakref.ref(receiver)
            weakref.finalize(receiver.__self__ if bound else receiver, self._mark_dead)
        with self.lock:
            self._clear_dead()
            if all(existing != key for existing, _ in self.receivers):
                self.receivers = [*self.receivers, (key, held)]  # a new list: send iterates without the lock

    def disconnect(
        self,
        receiver: Callable | None = None,
        sender: Any = None,
        weak: Any = None,
        dispatch_uid: Hashable = None,
    ) -> bool:
        """Disconnect a receiver (by itself or its ``dispatch_uid``, with its sender); True if one was."""
        if weak is not None:
            warnings.warn("Passing `weak` to disconnect has no effect.", DeprecationWarning, stacklevel=2)
        key = (dispatch_uid or _make_id(receiver), _make_id(sender))
        with self.lock:
            self._clear_dead()
            kept = [entry for entry in self.receivers if entry[0] != key]
            found = len(kept) != len(self.receivers)
            self.receivers = kept
        return found

    def has_listeners(self, sender: Any = None) -> bool:
        return bool(self._live_receivers(sender))

    def send(self, sender: Any, **named: Any) -> list[tuple[Callable, Any]]:
        """Call every receiver for ``sender``; return ``[(receiver, answer or exception), ...]``."""
        if not self.receivers:
            return []
        responses = []
        for receiver in self._live_receivers(sender):
            try:
                response = receiver(signal=self, sender=sender, **named)
            except Exception as exc:  # a receiver's failure is logged and answered, never raised
                logger.exception("Signal handler %r raised: %r", receiver, exc)
                responses.append((receiver, exc))
            else:
                responses.append((receiver, response))
        return responses

    send_robust = send  # Django's name; Celery's send is already robust

    def _live_receivers(self, sender: Any) -> list[Callable]:
        sender_id = _make_id(sender)
        live = []
        for (_, receiver_sender), held in self.receivers:
            if receiver_sender != _NONE_ID and receiver_sender != sender_id:
                continue
            if isinstance(held, weakref.ReferenceType):
                held = held()
                if held is None:
                    continue
            live.append(held)
        return live

    def _mark_dead(self) -> None:
        self._dead = True  # cleaned under the lock by the next connect/disconnect (GC may hold it now)

    def _clear_dead(self) -> None:
        if self._dead:
            self._dead = False
            self.receivers = [
                entry
                for entry in self.receivers
                if not (isinstance(entry[1], weakref.ReferenceType) and entry[1]() is None)
            ]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name} providing_args={self.providing_args!r}>"

    __str__ = __repr__


def _signal(name: str, *args: str) -> Signal:
    return Signal(name=name, providing_args=set(args))


# -- publishing (sent where the message is enqueued; never in eager mode, as in Celery) ---------------
before_task_publish = _signal(
    "before_task_publish",
    "body",
    "exchange",
    "routing_key",
    "headers",
    "properties",
    "declare",
    "retry_policy",
)
after_task_publish = _signal("after_task_publish", "body", "exchange", "routing_key")
task_sent = _signal(
    "task_sent", "task_id", "task", "args", "kwargs", "eta", "taskset"
)  # deprecated in Celery

# -- tasks ------------------------------------------------------------------------------------------
task_received = _signal("task_received", "request")
task_prerun = _signal("task_prerun", "task_id", "task", "args", "kwargs")
task_postrun = _signal("task_postrun", "task_id", "task", "args", "kwargs", "retval")
task_success = _signal("task_success", "result", "runtime")
task_retry = _signal("task_retry", "request", "reason", "einfo")
task_failure = _signal("task_failure", "task_id", "exception", "args", "kwargs", "traceback", "einfo")
task_internal_error = _signal(
    "task_internal_error", "task_id", "args", "kwargs", "request", "exception", "traceback", "einfo"
)
task_revoked = _signal("task_revoked", "request", "terminated", "signum", "expired")
task_rejected = _signal("task_rejected", "message", "exc")
task_unknown = _signal("task_unknown", "message", "exc", "name", "id")

# -- workers ----------------------------------------------------------------------------------------
celeryd_init = _signal("celeryd_init", "instance", "conf", "options")
celeryd_after_setup = _signal("celeryd_after_setup", "instance", "conf")
import_modules = _signal("import_modules")
worker_init = _signal("worker_init")
worker_before_create_process = _signal("worker_before_create_process")
worker_process_init = _signal("worker_process_init")
worker_process_shutdown = _signal("worker_process_shutdown")
worker_ready = _signal("worker_ready")
worker_shutdown = _signal("worker_shutdown")
worker_shutting_down = _signal("worker_shutting_down")
heartbeat_sent = _signal("heartbeat_sent")

# -- logging ----------------------------------------------------------------------------------------
setup_logging = _signal("setup_logging", "loglevel", "logfile", "format", "colorize")
after_setup_logger = _signal("after_setup_logger", "logger", "loglevel", "logfile", "format", "colorize")
after_setup_task_logger = _signal(
    "after_setup_task_logger", "logger", "loglevel", "logfile", "format", "colorize"
)

# -- the scheduler and start-up ---------------------------------------------------------------------
beat_init = _signal("beat_init")
beat_embedded_init = _signal("beat_embedded_init")
user_preload_options = _signal("user_preload_options", "app", "options")

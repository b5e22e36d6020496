"""Celery's exception types, importable from the same place as in Celery (``celery.exceptions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dramatiq.middleware.time_limit import TimeLimitExceeded as _DramatiqTimeLimitExceeded


class CeleryError(Exception):
    """Base of every facade error."""


class TaskPredicate(CeleryError):
    """Base for exceptions that change how a task ends (Retry, Ignore, Reject)."""


class Retry(TaskPredicate):
    """Raised by ``Task.retry()``: the task has been re-sent and this run ends in RETRY."""

    def __init__(
        self,
        message: str | None = None,
        exc: BaseException | None = None,
        when: float | datetime | None = None,
        is_eager: bool = False,
        sig: Any = None,
        **_: Any,
    ) -> None:
        self.message = message
        self.exc = exc
        self.excs = repr(exc) if exc is not None else None
        self.when = when
        self.is_eager = is_eager
        self.sig = sig
        super().__init__(self, exc, when)

    def humanize(self) -> str:
        if isinstance(self.when, (int, float)):
            return f"in {self.when}s"
        return f"at {self.when}"

    def __str__(self) -> str:
        if self.message:
            return self.message
        if self.excs:
            return f"Retry {self.humanize()}: {self.excs}"
        return f"Retry {self.humanize()}"

    def __reduce__(self):
        return self.__class__, (self.message, self.exc, self.when)


RetryTaskError = Retry


class Ignore(TaskPredicate):
    """Raised inside a task to end it without storing any state."""


class Reject(TaskPredicate):
    """Raised inside a task to reject its message (requeue or dead-letter it)."""

    def __init__(self, reason: Any = None, requeue: bool = False) -> None:
        self.reason = reason
        self.requeue = requeue
        super().__init__(reason, requeue)

    def __repr__(self) -> str:
        return f"reject requeue={self.requeue}: {self.reason}"


class ImproperlyConfigured(CeleryError, ValueError):
    """The configuration cannot work (bad URL, unsupported setting value)."""


class TaskError(CeleryError):
    """Task related errors."""


class NotRegistered(KeyError, TaskError):
    """The task name is not known to this process."""

    def __repr__(self) -> str:
        return f"NotRegistered({self.args[0]!r})" if self.args else "NotRegistered()"

    def __str__(self) -> str:
        return repr(self.args[0]) if self.args else ""


class AlreadyRegistered(TaskError):
    """The task name is already registered with a different function."""


class MaxRetriesExceededError(TaskError):
    """``Task.retry()`` was called past ``max_retries`` without an ``exc`` to re-raise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.task_args = kwargs.pop("task_args", [])
        self.task_kwargs = kwargs.pop("task_kwargs", {})
        super().__init__(*args, **kwargs)


class TaskRevokedError(TaskError):
    """The task was revoked (or its message expired) and will never run."""


class TaskTerminated(BaseException):
    """Raised inside a running task's thread by ``revoke(..., terminate=True)``; the task is then REVOKED.

    A ``BaseException`` (as ``SystemExit``), so that a task's ``except Exception`` does not swallow it.
    """


class InvalidTaskError(TaskError):
    """The message is not a valid task message."""


class ChordError(TaskError):
    """A chord's header failed, so its body cannot run."""


class TimeoutError(TaskError):  # noqa: A001 - Celery's name, kept for drop-in imports
    """``AsyncResult.get()`` did not see the task finish in time."""


class QueueNotFound(KeyError, TaskError):
    """``task_create_missing_queues`` is off and the queue is not declared."""


class EncodeError(CeleryError, TypeError):
    """A value cannot travel as JSON: raised at the call site, before anything is sent."""


class OperationalError(CeleryError, ConnectionError):
    """The broker cannot be reached: nothing was sent (Celery raises kombu's OperationalError here)."""


class DecodeError(CeleryError, ValueError):
    """A message or stored result could not be decoded."""


class SecurityError(CeleryError):
    """A stored exception names something that is not an exception class."""


class SoftTimeLimitExceeded(Exception):
    """Raised inside a task when its ``soft_time_limit`` passes."""

    def __str__(self) -> str:
        return "SoftTimeLimitExceeded()"


class TimeLimitExceeded(_DramatiqTimeLimitExceeded, Exception):
    """The task ran past its hard ``time_limit`` (raised in its thread by ``compat.middleware.time_limit``).

    Celery's is an ``Exception``, and ``result.get()`` re-raises it in callers that catch ``Exception``;
    Dramatiq's is an ``Interrupt`` (a ``BaseException``). This one is both: ``except TimeLimitExceeded``
    catches it in the task (kpi's cleanup) and in callers, and Dramatiq's own handling still sees its class.
    """

    def __str__(self) -> str:
        return f"TimeLimitExceeded{self.args}"


class WorkerLostError(Exception):
    """The worker running the task died."""


class AlwaysEagerIgnored(UserWarning):
    """``send_task`` ignores ``task_always_eager``: it always sends."""


class CDeprecationWarning(DeprecationWarning):
    """A Celery feature kept for compatibility but deprecated."""


__all__ = [
    "AlreadyRegistered",
    "AlwaysEagerIgnored",
    "CDeprecationWarning",
    "CeleryError",
    "ChordError",
    "DecodeError",
    "EncodeError",
    "Ignore",
    "ImproperlyConfigured",
    "InvalidTaskError",
    "MaxRetriesExceededError",
    "NotRegistered",
    "QueueNotFound",
    "Reject",
    "Retry",
    "TaskTerminated",
    "RetryTaskError",
    "SecurityError",
    "SoftTimeLimitExceeded",
    "TaskError",
    "TaskPredicate",
    "TaskRevokedError",
    "TimeLimitExceeded",
    "TimeoutError",
    "WorkerLostError",
]

"""``self.request``: what a running task knows about its own call, as Celery's ``Context`` holds it."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any


class Context:
    """The request of one task execution; unknown attributes read as None, like Celery's."""

    id: str | None = None
    retries: int = 0
    args: Any = None
    kwargs: Any = None
    is_eager: bool = False
    called_directly: bool = True
    root_id: str | None = None
    parent_id: str | None = None
    group: str | None = None
    group_index: int | None = None
    headers: dict | None = None
    delivery_info: dict | None = None
    hostname: str | None = None
    eta: str | None = None
    expires: str | None = None
    chain: list | None = None
    chord: dict | None = None
    callbacks: list | None = None
    errbacks: list | None = None
    timelimit: tuple | None = None
    ignore_result: bool = False
    task: str | None = None
    reply_to: str | None = None
    correlation_id: str | None = None
    origin: str | None = None

    def __init__(self, **fields: Any) -> None:
        self.children: list = []
        self.__dict__.update(fields)

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Context:
        """A request over ``fields`` (taken as is, not copied): the worker builds one per message."""
        request = cls.__new__(cls)
        fields["children"] = []
        request.__dict__ = fields
        return request

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}

    def __repr__(self) -> str:
        return f"<Context: {self.as_dict()!r}>"


_local = threading.local()


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


@contextmanager
def executing(task: Any, request: Context):
    """Mark ``task`` as running with ``request`` in this thread for the duration of the block."""
    stack = _stack()
    stack.append((task, request))
    try:
        yield request
    finally:
        stack.pop()


def current() -> tuple[Any, Context] | None:
    """The innermost task running in this thread, with its request, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def executing_stack() -> list:
    """The ``(task, request)`` pairs executing in this thread, outermost first (a copy)."""
    return list(_stack())


def request_of(task: Any) -> Context | None:
    """The request of the innermost running execution of ``task`` in this thread."""
    for running, request in reversed(_stack()):
        if running is task:
            return request
    return None


def join_denied() -> bool:
    """True inside a worker task or an eager ``apply_async``: ``result.get()`` would deadlock there."""
    return getattr(_local, "deny_join", 0) > 0


def run_as_worker(task: Any, request: Context, body: Any, *args: Any) -> Any:
    """``body(request, *args)`` as ``task``'s execution in this thread, with joins denied.

    What ``executing`` and ``denied_join`` do together, without two generator context managers per
    message on the worker's hot path.
    """
    stack = _stack()
    stack.append((task, request))
    _local.deny_join = getattr(_local, "deny_join", 0) + 1
    try:
        return body(request, *args)
    finally:
        _local.deny_join -= 1
        stack.pop()


@contextmanager
def denied_join():
    """Forbid blocking on results inside the block (Celery's ``denied_join_result``)."""
    _local.deny_join = getattr(_local, "deny_join", 0) + 1
    try:
        yield
    finally:
        _local.deny_join -= 1


@contextmanager
def allowed_join():
    """Allow blocking on results inside the block (``Task.apply`` called directly)."""
    previous = getattr(_local, "deny_join", 0)
    _local.deny_join = 0
    try:
        yield
    finally:
        _local.deny_join = previous

"""Result handles of one task: ``AsyncResult`` (read from the store) and ``EagerResult`` (already known).

An unknown id is PENDING, never an error; a failure's ``.result`` is the exception instance and
``.traceback`` the formatted text; ``.get()`` re-raises unless ``propagate=False`` and refuses to block
inside a task. Records come from the app's result store (``compat.results.store``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import request as requests
from .. import states
from ..exceptions import TaskRevokedError
from ..serialization import exception_from_meta
from . import groups

E_WOULDBLOCK = (
    "Never call result.get() within a task!\n"
    "See https://docs.celeryq.dev/en/latest/userguide/tasks.html#avoid-launching-synchronous-subtasks\n"
)


def assert_will_not_block() -> None:
    if requests.join_denied():
        raise RuntimeError(E_WOULDBLOCK)


def _app(app: Any) -> Any:
    if app is not None:
        return app
    from ..app import get_current_app

    return get_current_app()


class AsyncResult:
    """The state and outcome of one task id, read from the result store."""

    def __init__(
        self, id: str, backend: Any = None, task_name: str | None = None, app: Any = None, parent: Any = None
    ) -> None:
        if id is None:
            raise ValueError(f"AsyncResult requires valid id, not {type(id)}")
        self.id = str(id)
        self.app = _app(app)
        self._backend = backend
        self.task_name = task_name
        self.parent = parent
        self.ignored = False
        self._cache: dict[str, Any] | None = None

    task_id = property(lambda self: self.id)

    @property
    def backend(self) -> Any:
        return self._backend or self.app.backend

    # -- state -------------------------------------------------------------------------------------
    def _get_meta(self) -> dict[str, Any]:
        if self._cache is not None:
            return self._cache
        meta = self.backend.get_meta(self.id)
        if meta is None:
            return {"status": states.PENDING, "result": None, "traceback": None, "children": None}
        if meta.get("status") in states.READY_STATES:
            self._cache = meta
        return meta

    def _set_cache(self, meta: dict[str, Any]) -> None:
        if meta.get("status") in states.READY_STATES:
            self._cache = meta

    @property
    def state(self) -> str:
        return self._get_meta()["status"]

    status = state

    @property
    def result(self) -> Any:
        return self._decode_result(self._get_meta())

    info = result

    @property
    def traceback(self) -> str | None:
        return self._get_meta().get("traceback")

    @staticmethod
    def _decode_result(meta: dict[str, Any]) -> Any:
        if meta["status"] in states.EXCEPTION_STATES:
            return exception_from_meta(meta.get("result"))
        return meta.get("result")

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    def exists(self) -> bool:
        return self.backend.get_meta(self.id) is not None

    @property
    def date_done(self) -> datetime | None:
        value = self._get_meta().get("date_done")
        return datetime.fromisoformat(value) if value else None

    @property
    def children(self) -> list | None:
        children = self._get_meta().get("children")
        if children is None:
            return None
        return [groups.result_from_tuple(child, self.app) for child in children]

    name = property(lambda self: self._get_meta().get("name"))
    args = property(lambda self: self._get_meta().get("args"))
    kwargs = property(lambda self: self._get_meta().get("kwargs"))
    worker = property(lambda self: self._get_meta().get("worker"))
    retries = property(lambda self: self._get_meta().get("retries"))
    queue = property(lambda self: self._get_meta().get("queue"))

    # -- waiting -----------------------------------------------------------------------------------
    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        no_ack: bool = True,
        follow_parents: bool = True,
        callback: Any = None,
        on_message: Any = None,
        on_interval: Any = None,
        disable_sync_subtasks: bool = True,
        EXCEPTION_STATES: Any = None,
        PROPAGATE_STATES: Any = None,
    ) -> Any:
        """Wait for the task to finish and return its value (or raise its exception)."""
        if self.ignored:
            return None
        if disable_sync_subtasks:
            assert_will_not_block()
        if follow_parents and propagate and self.parent is not None:
            self.parent.maybe_throw_parents()
        meta = self._cache or self.backend.wait([self.id], timeout=timeout, interval=max(interval, 1.0))[0]
        self._set_cache(meta)
        if (
            follow_parents
            and propagate
            and self.parent is not None
            and meta["status"] in states.PROPAGATE_STATES
        ):
            self.parent.maybe_throw_parents()
        if callback is not None:
            callback(self.id, self._decode_result(meta))
        return self._outcome(meta, propagate)

    wait = get

    def _outcome(self, meta: dict[str, Any], propagate: bool) -> Any:
        value = self._decode_result(meta)
        if meta["status"] in states.PROPAGATE_STATES and propagate:
            raise value
        return value

    def maybe_throw_parents(self) -> None:
        """Raise the exception of the first failed ancestor (``follow_parents``)."""
        if self.parent is not None:
            self.parent.maybe_throw_parents()
        meta = self._get_meta()
        if meta["status"] in states.PROPAGATE_STATES:
            raise self._decode_result(meta)

    maybe_throw = maybe_throw_parents

    # -- control -----------------------------------------------------------------------------------
    def forget(self) -> None:
        """Remove the stored result (the id reads PENDING again)."""
        self._cache = None
        if self.parent is not None:
            self.parent.forget()
        self.backend.forget(self.id)

    def revoke(
        self,
        connection: Any = None,
        terminate: bool = False,
        signal: Any = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Make sure the task never runs (``app.control.revoke``): every worker skips it, it is REVOKED;
        with ``terminate``, the worker running it stops it; with ``wait``, the workers' replies."""
        return self.app.control.revoke(
            self.id, terminate=terminate, signal=signal or "SIGTERM", reply=wait, timeout=timeout or 1.0
        )

    def then(self, callback: Any, on_error: Any = None, weak: bool = False) -> None:
        raise NotImplementedError("AsyncResult.then() is not supported by compat; use link= instead")

    def collect(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("AsyncResult.collect() is not supported by compat; walk .children instead")

    def build_graph(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("AsyncResult.build_graph() is not supported by compat")

    def as_tuple(self) -> Any:
        parent = self.parent
        return [[self.id, parent.as_tuple() if parent is not None else None], None]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.id)

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    def __reduce__(self):
        return self.__class__, (self.id, None, self.task_name, None, self.parent)


class EagerResult(AsyncResult):
    """The outcome of a task run inline: always ready, nothing stored."""

    def __init__(
        self,
        id: str,
        ret_value: Any,
        state: str,
        traceback: str | None = None,
        name: str | None = None,
        app: Any = None,
    ) -> None:
        super().__init__(id, app=app, task_name=name)
        self._result = ret_value
        self._state = state
        self._traceback = traceback
        self._name = name

    def _get_meta(self) -> dict[str, Any]:
        return {"status": self._state, "result": self._result, "traceback": self._traceback, "children": None}

    state = status = property(lambda self: self._state)
    result = info = property(lambda self: self._result)
    traceback = property(lambda self: self._traceback)
    name = property(lambda self: self._name)
    args = kwargs = date_done = children = worker = retries = queue = property(lambda self: None)

    def ready(self) -> bool:
        return True

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        disable_sync_subtasks: bool = True,
        **kwargs: Any,
    ) -> Any:
        if disable_sync_subtasks:
            assert_will_not_block()
        if self.successful():
            return self.result
        if self._state in states.PROPAGATE_STATES:
            if propagate:
                raise self.result if isinstance(self.result, BaseException) else Exception(self.result)
            return self.result
        return self.result

    wait = get

    def forget(self) -> None:
        return None

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        self._state = states.REVOKED
        self._result = TaskRevokedError("revoked")

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"

"""Results of several tasks: ``ResultSet`` and ``GroupResult`` (values in the group's order)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import states
from .handles import AsyncResult, _app, assert_will_not_block


def result_from_tuple(value: Any, app: Any = None) -> Any:
    """Rebuild a result from its stored tuple form (children of a task)."""
    if isinstance(value, AsyncResult | ResultSet):
        return value
    (task_id, parent), nodes = value
    if nodes:
        return GroupResult(task_id, [result_from_tuple(node, app) for node in nodes], app=app)
    parent_result = result_from_tuple(parent, app) if parent else None
    return AsyncResult(task_id, app=app, parent=parent_result)


class ResultSet:
    """Several results handled together; values come back in the set's order."""

    def __init__(self, results: Iterable[Any], app: Any = None, **kwargs: Any) -> None:
        self.results = list(results)
        self.app = _app(app)

    def add(self, result: Any) -> None:
        if result not in self.results:
            self.results.append(result)

    def remove(self, result: Any) -> None:
        self.results.remove(result)

    def discard(self, result: Any) -> None:
        if result in self.results:
            self.results.remove(result)

    def clear(self) -> None:
        self.results.clear()

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self):
        return iter(self.results)

    def __getitem__(self, index: int) -> Any:
        return self.results[index]

    def successful(self) -> bool:
        return all(result.successful() for result in self.results)

    def failed(self) -> bool:
        return any(result.failed() for result in self.results)

    def ready(self) -> bool:
        return all(result.ready() for result in self.results)

    def waiting(self) -> bool:
        return not self.ready()

    def completed_count(self) -> int:
        return sum(int(result.successful()) for result in self.results)

    def forget(self) -> None:
        for result in self.results:
            result.forget()

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        for result in self.results:
            result.revoke()

    def maybe_throw(self, callback: Any = None, propagate: bool = True) -> None:
        for result in self.results:
            if propagate and result.state in states.PROPAGATE_STATES:
                raise result.result

    def maybe_throw_parents(self) -> None:
        """Raise the first failure among this set's parents and members (``follow_parents``)."""
        parent = getattr(self, "parent", None)
        if parent is not None:
            parent.maybe_throw_parents()
        self.maybe_throw()

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        callback: Any = None,
        no_ack: bool = True,
        on_message: Any = None,
        on_interval: Any = None,
        disable_sync_subtasks: bool = True,
        **kwargs: Any,
    ) -> list:
        """Wait for every result; values in the set's order (``join_native``)."""
        return self.join(
            timeout=timeout,
            propagate=propagate,
            interval=interval,
            callback=callback,
            disable_sync_subtasks=disable_sync_subtasks,
        )

    def join(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        callback: Any = None,
        no_ack: bool = True,
        on_message: Any = None,
        on_interval: Any = None,
        disable_sync_subtasks: bool = True,
        **kwargs: Any,
    ) -> list:
        if disable_sync_subtasks:
            assert_will_not_block()
        simple = [result for result in self.results if _plain(result) and not result.ignored]
        if simple:
            backend = simple[0].backend
            metas = backend.wait(
                [result.id for result in simple], timeout=timeout, interval=max(interval, 1.0)
            )
            for result, meta in zip(simple, metas, strict=True):
                result._set_cache(meta)
        values = []
        for result in self.results:
            value = result.get(timeout=timeout, propagate=propagate, disable_sync_subtasks=False)
            if callback is not None:
                callback(result.id, value)
            else:
                values.append(value)
        return [] if callback is not None else values

    join_native = join

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultSet):
            return other.results == self.results
        return NotImplemented

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(r.id for r in self.results)}]>"


def _plain(result: Any) -> bool:
    """An AsyncResult (or an app's bound AsyncResult class), not an eager or group result."""
    kind = type(result)
    return kind is AsyncResult or getattr(kind, "bound_base", None) is AsyncResult


class GroupResult(ResultSet):
    """The results of a group, under the group's id; ``save()``/``restore()`` keep it in the store."""

    def __init__(
        self,
        id: str | None = None,
        results: Iterable[Any] | None = None,
        parent: Any = None,
        app: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(results or [], app=app)
        self.id = id
        self.parent = parent

    @property
    def children(self) -> list:
        return self.results

    def save(self, backend: Any = None) -> GroupResult:
        (backend or self.app.backend).save_group(self.id, self.as_tuple())
        return self

    def delete(self, backend: Any = None) -> None:
        (backend or self.app.backend).delete_group(self.id)

    @classmethod
    def restore(cls, id: str, backend: Any = None, app: Any = None) -> GroupResult | None:
        app = _app(app)
        stored = (backend or app.backend).restore_group(id)
        return result_from_tuple(stored, app) if stored else None

    def as_tuple(self) -> Any:
        parent = self.parent
        return [
            [self.id, parent.as_tuple() if parent is not None else None],
            [result.as_tuple() for result in self.results],
        ]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GroupResult):
            return other.id == self.id and other.results == self.results
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(r.id for r in self.results)}]>"

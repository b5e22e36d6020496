"""``group``: tasks run in parallel; ``apply_async()`` returns a ``GroupResult`` in the group's order."""

from __future__ import annotations

from typing import Any

from ..results import GroupResult
from . import chains, chords
from .base import Items, Signature, without_repeated_module


@Signature.register_type("group")
class group(Signature):
    """Tasks run in parallel; ``get()`` returns their values in the group's order."""

    def __init__(self, *tasks: Any, app: Any = None, **options: Any) -> None:
        if len(tasks) == 1:
            only = tasks[0]
            if isinstance(only, group):
                tasks = tuple(only.tasks)
            elif isinstance(only, dict):
                tasks = (only,)
            else:
                tasks = tuple(only)
        app = app or next((getattr(t, "_app", None) for t in tasks if getattr(t, "_app", None)), None)
        members = [Signature.from_any(task, app=app) for task in tasks]
        Signature.__init__(
            self, "celery.group", (), {"tasks": members}, options, subtask_type="group", app=app
        )

    @classmethod
    def from_dict(cls, data: dict, app: Any = None) -> group:
        tasks = [Signature.from_dict(t, app=app) for t in data["kwargs"]["tasks"]]
        return cls(tasks, app=app, **(data.get("options") or {}))

    tasks = property(lambda self: self["kwargs"]["tasks"])

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> group:
        return group(
            [task.clone(args, kwargs) for task in self.tasks], app=self._app, **{**self.options, **opts}
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def __len__(self) -> int:
        return len(self.tasks)

    def link(self, callback: Any) -> Any:
        if self.tasks:
            self.tasks[0].link(Signature.from_any(callback).clone().set(immutable=True))
        return callback

    def link_error(self, errback: Any) -> Any:
        for task in self.tasks:
            task.link_error(Signature.from_any(errback).clone())
        return errback

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        add_to_parent: bool = True,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        **options: Any,
    ) -> Any:
        if link is not None:
            raise TypeError("Cannot add link to group: use a chord")
        if link_error is not None:
            raise TypeError("Cannot add link to group: do that on individual tasks")
        app = self.app
        if app.conf.task_always_eager:
            return self.apply(args, kwargs, **options)
        result, items = self.build(args, kwargs, options)
        app.enqueue(items)
        return result

    def freeze(self, _id: str | None = None, group_id: str | None = None, **kwargs: Any) -> GroupResult:
        gid = _id or group_id or self.options.get("task_id") or self.app.new_id()
        self.options["task_id"] = gid
        results = []
        for index, task in enumerate(self.tasks):
            results.append(
                task.freeze(group_id=gid, group_index=index)
                if not isinstance(task, (group, chains._chain))
                else task.freeze()
            )
        return GroupResult(gid, results, app=self.app)

    def build(self, args: Any = None, kwargs: Any = None, options: Any = None) -> tuple[Any, Items]:
        options = dict(options or {})
        frozen = self.freeze(options.pop("task_id", None) or options.pop("group_id", None))
        chord_info = options.pop("chord", None)
        items: Items = []
        for index, task in enumerate(self.tasks):
            member_options = {**options, "group_id": frozen.id, "group_index": index}
            if chord_info is not None:
                member_options["chord"] = {**chord_info, "index": index}
            if isinstance(task, chains._chain):
                member_options.pop("group_index")
                member_options.pop("group_id")
                task = _chain_with_member_options(task, frozen.id, index)
            _, member_items = task.build(args, kwargs, member_options)
            items.extend(member_items)
        return frozen, items

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> GroupResult:
        app = self.app
        gid = self.options.get("task_id") or app.new_id()
        results = [task.clone(args, kwargs).apply(**options) for task in self.tasks]
        return GroupResult(gid, results, app=app)

    def __or__(self, other: Any) -> Any:
        if isinstance(other, (Signature,)) and not isinstance(other, chains._chain):
            return chords.chord(self, other, app=self._app)
        if isinstance(other, chains._chain):
            return chains._chain(self, *other.tasks, app=self._app)
        return NotImplemented

    def __repr__(self) -> str:
        if not self.tasks:
            return "group(<empty>)"
        return without_repeated_module(self.tasks[0].task, f"group({tuple(self.tasks)!r})")


def _chain_with_member_options(task: chains._chain, group_id: str, index: int) -> chains._chain:
    """A group member that is a chain carries the group id on its last step (whose result counts)."""
    steps = task.steps()
    if steps:
        steps[-1].options.update(group_id=group_id, group_index=index)
    clone = chains._chain(*steps, app=task._app, **task.options)
    clone["kwargs"]["tasks"] = steps
    return clone

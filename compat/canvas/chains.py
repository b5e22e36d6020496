"""``chain``: tasks run one after another, each result prepended to the next task's args.

A chain that runs into a group becomes a chord; ``apply_async()`` returns the result of the last task,
whose ``.parent`` walks back. What happens after each step finishes is ``compat.middleware.canvas``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import request as requests
from ..results import AsyncResult
from . import chords, groups
from .base import Items, Signature, _listify, maybe_unroll_group, without_repeated_module


def _flatten(tasks: Iterable[Any], app: Any) -> list[Signature]:
    flat: list[Signature] = []
    for item in tasks:
        sig = Signature.from_any(item, app=app)
        if isinstance(sig, _chain):
            flat.extend(sig.tasks)
        else:
            flat.append(sig)
    return flat


@Signature.register_type("chain")
class _chain(Signature):
    """Tasks run one after another; each result is prepended to the next task's args."""

    def __init__(self, *tasks: Any, app: Any = None, **options: Any) -> None:
        if len(tasks) == 1 and not isinstance(tasks[0], (Signature, dict)):
            tasks = tuple(tasks[0])
        app = app or next((getattr(t, "_app", None) for t in tasks if getattr(t, "_app", None)), None)
        flat = _flatten(tasks, app)
        Signature.__init__(self, "celery.chain", (), {"tasks": flat}, options, subtask_type="chain", app=app)

    @classmethod
    def from_dict(cls, data: dict, app: Any = None) -> _chain:
        tasks = [Signature.from_dict(t, app=app) for t in data["kwargs"]["tasks"]]
        sig = cls(*tasks, app=app, **(data.get("options") or {}))
        sig["immutable"] = data.get("immutable", False)
        return sig

    tasks = property(lambda self: self["kwargs"]["tasks"])

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> _chain:
        tasks = [task.clone() for task in self.tasks]
        if tasks and args and not tasks[0].immutable:
            tasks[0] = tasks[0].clone(args, kwargs)
        return _chain(*tasks, app=self._app, **{**self.options, **opts})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def steps(self) -> list[Signature]:
        """The steps as they will run: empty groups dropped, a group followed by a task becomes a chord."""
        steps: list[Signature] = []
        for task in self.tasks:
            task = maybe_unroll_group(task)
            if isinstance(task, groups.group) and not task.tasks:
                continue
            if steps and isinstance(steps[-1], groups.group) and not isinstance(task, groups.group):
                steps[-1] = chords.chord(steps[-1], task, app=self._app)
            elif steps and isinstance(steps[-1], groups.group) and isinstance(task, groups.group):
                steps[-1] = chords.chord(steps[-1], task, app=self._app)
            elif steps and isinstance(steps[-1], chords.chord) and not isinstance(task, groups.group):
                steps[-1] = steps[-1].with_body(steps[-1].body | task)
            else:
                steps.append(task.clone())
        return steps

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        app = self.app
        if app.conf.task_always_eager:
            with requests.allowed_join():  # an eager step is already finished: joining it never blocks
                return self.apply(args, kwargs, **options)
        if not self.tasks:
            return None
        result, items = self.build(args, kwargs, options)
        app.enqueue(items)
        return result

    def build(self, args: Any = None, kwargs: Any = None, options: Any = None) -> tuple[Any, Items]:
        options = dict(options or {})
        steps = self.steps()
        if not steps:
            return None, []
        link_error = options.pop("link_error", None) or self.options.get("link_error")
        errbacks = _listify(link_error)
        results = []
        parent = None
        for step in steps:
            if errbacks:
                for errback in errbacks:
                    step.link_error(errback)
            result = freeze_step(step)
            if parent is not None and isinstance(result, AsyncResult):
                result.parent = parent
            results.append(result)
            parent = result
        first, rest = steps[0], steps[1:]
        link = options.pop("link", None) or self.options.get("link")
        if link:
            for callback in _listify(link):
                steps[-1].link(callback)
        chain_rest = [dict(step) for step in rest]
        task_id = options.pop("task_id", None)
        if task_id and len(steps) == 1:
            first.options["task_id"] = task_id
        _, items = first.build(args, kwargs, {**options, "chain": chain_rest or None})
        return results[-1], items

    def freeze(self, _id: str | None = None, **kwargs: Any) -> Any:
        """Fix every step's id now (the last step's is ``_id`` when given, as in Celery); the last result."""
        steps = self.steps()
        self["kwargs"]["tasks"] = steps
        result = None
        for index, step in enumerate(steps):
            frozen = step.freeze(_id) if _id is not None and index == len(steps) - 1 else freeze_step(step)
            if result is not None and isinstance(frozen, AsyncResult):
                frozen.parent = result
            result = frozen
        return result

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Run every step inline; a failed step raises from here (Celery's eager chain).

        Errbacks of the chain go to every step (only the failing one calls them); ``link`` callbacks
        go to the last step only.
        """
        options = {**self.options, **options}
        link = options.pop("link", None)
        last = None
        args = tuple(args or ())
        steps = self.steps()
        for index, task in enumerate(steps):
            step_args = (last.get(disable_sync_subtasks=False),) if last is not None else args
            step_options = dict(options, link=link) if link and index == len(steps) - 1 else options
            result = task.clone(step_args, kwargs if last is None else None).apply(**step_options)
            if isinstance(result, AsyncResult):
                result.parent = last
            last = result
        return last

    def __or__(self, other: Any) -> Any:
        if isinstance(other, groups.group):
            other = maybe_unroll_group(other)
            if isinstance(other, groups.group) and not other.tasks:
                return self.clone()
        if isinstance(other, _chain):
            return _chain(*self.tasks, *other.tasks, app=self._app, **self.options)
        if isinstance(other, Signature):
            if self.tasks and isinstance(self.tasks[-1], groups.group):
                last = chords.chord(self.tasks[-1], other, app=self._app)
                return _chain(*self.tasks[:-1], last, app=self._app)
            return _chain(*self.tasks, other, app=self._app, **self.options)
        return NotImplemented

    def __repr__(self) -> str:
        if not self.tasks:
            return f"{type(self).__name__}()"
        return without_repeated_module(self.tasks[0].task, " | ".join(repr(task) for task in self.tasks))


class chain(_chain):
    """``chain(a, b, c)``: Celery's public chain (``chain()`` of nothing returns None when applied)."""

    def __new__(cls, *tasks: Any, **kwargs: Any) -> Any:
        return _chain(*tasks, **kwargs)

    def __init__(self, *tasks: Any, **kwargs: Any) -> None:  # pragma: no cover - __new__ returns _chain
        super().__init__(*tasks, **kwargs)


def freeze_step(step: Signature) -> Any:
    """Freeze one chain step (task, group or chord) and return its result handle."""
    return step.freeze()

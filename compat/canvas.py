"""Signatures and the canvas: ``signature``, ``chain``, ``group``, ``chord``, with Celery's semantics.

A signature is a dict (it travels as JSON inside messages). Partial args are prepended at call time,
kwargs merged with the call's winning; immutable signatures ignore both. Sending builds every Dramatiq
message first and enqueues them in one round trip; what happens after a task finishes (next chain step,
callbacks, chord barrier, failure propagation) is done by ``compat.middleware.canvas`` in the worker.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from dramatiq.message import Message

from . import request as requests
from .result import AsyncResult, EagerResult, GroupResult

Items = list[tuple[Message, Any]]


def _app(app: Any) -> Any:
    if app is not None:
        return app
    from .app import get_current_app

    return get_current_app()


class Signature(dict):
    """A task call that can be passed around: ``{'task', 'args', 'kwargs', 'options', ...}``."""

    TYPES: dict[str, type] = {}

    def __init__(
        self,
        task: Any = None,
        args: Any = None,
        kwargs: Any = None,
        options: Any = None,
        type: Any = None,
        subtask_type: str | None = None,
        immutable: bool = False,
        app: Any = None,
        **ex: Any,
    ) -> None:
        self._app = app
        if isinstance(task, dict):
            super().__init__(task)
            return
        name = task if isinstance(task, str) or task is None else task.name
        if app is None and task is not None and not isinstance(task, str):
            self._app = task.app
        super().__init__(
            task=name,
            args=tuple(args or ()),
            kwargs=dict(kwargs or {}),
            options={**(options or {}), **ex},
            subtask_type=subtask_type,
            immutable=bool(immutable),
        )

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def register_type(cls, name: str):
        def register(subclass: type) -> type:
            cls.TYPES[name] = subclass
            return subclass

        return register

    @classmethod
    def from_dict(cls, data: dict, app: Any = None) -> Signature:
        kind = data.get("subtask_type")
        if kind:
            return cls.TYPES[kind].from_dict(data, app=app)
        sig = Signature(dict(data), app=app)
        sig["args"] = tuple(sig.get("args") or ())
        return sig

    @classmethod
    def from_any(cls, value: Any, app: Any = None) -> Signature:
        if isinstance(value, Signature):
            return value
        if isinstance(value, dict):
            return cls.from_dict(value, app=app)
        if hasattr(value, "s"):
            return value.s()
        raise TypeError(f"Expected a signature, got {value!r}")

    # -- fields ------------------------------------------------------------------------------------
    task = property(lambda self: self.get("task"))
    args = property(lambda self: tuple(self.get("args") or ()))
    kwargs = property(lambda self: self.get("kwargs") or {})
    options = property(lambda self: self.setdefault("options", {}))
    subtask_type = property(lambda self: self.get("subtask_type"))
    immutable = property(lambda self: bool(self.get("immutable")))
    id = property(lambda self: self.options.get("task_id"))

    @property
    def app(self) -> Any:
        return _app(self._app)

    @property
    def type(self) -> Any:
        return self.app.tasks[self.task]

    # -- partial application -----------------------------------------------------------------------
    def _merge(self, args: Any = None, kwargs: Any = None, options: Any = None) -> tuple:
        args = tuple(args or ())
        kwargs = dict(kwargs or {})
        options = {key: value for key, value in (options or {}).items() if value is not None}
        merged_options = {**self.options, **options}
        if "group_id" in self.options:
            merged_options["group_id"] = self.options["group_id"]
        if self.immutable:
            return self.args, dict(self.kwargs), merged_options
        return args + self.args, {**self.kwargs, **kwargs}, merged_options

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> Signature:
        """A copy with ``args`` prepended, ``kwargs`` merged and options updated."""
        new_args, new_kwargs, new_options = self._merge(args, kwargs, opts)
        sig = Signature.from_dict(copy.deepcopy(dict(self)), app=self._app)
        sig["args"], sig["kwargs"], sig["options"] = new_args, new_kwargs, copy.deepcopy(new_options)
        return sig

    partial = clone

    def replace(self, args: Any = None, kwargs: Any = None, options: Any = None) -> Signature:
        sig = self.clone()
        if args is not None:
            sig["args"] = tuple(args)
        if kwargs is not None:
            sig["kwargs"] = dict(kwargs)
        if options is not None:
            sig["options"] = dict(options)
        return sig

    def set(self, immutable: bool | None = None, **options: Any) -> Signature:
        if immutable is not None:
            self.set_immutable(immutable)
        self.options.update(options)
        return self

    def set_immutable(self, immutable: bool) -> None:
        self["immutable"] = bool(immutable)

    def link(self, callback: Any) -> Any:
        return self._append_option("link", callback)

    def link_error(self, errback: Any) -> Any:
        return self._append_option("link_error", errback)

    def on_error(self, errback: Any) -> Signature:
        self.link_error(errback)
        return self

    def _append_option(self, key: str, value: Any) -> Any:
        items = self.options.setdefault(key, [])
        if not isinstance(items, list):
            items = self.options[key] = list(items) if isinstance(items, tuple) else [items]
        if value not in items:
            items.append(value)
        return value

    def freeze(
        self,
        _id: str | None = None,
        group_id: str | None = None,
        chord: Any = None,
        root_id: str | None = None,
        parent_id: str | None = None,
        group_index: int | None = None,
    ) -> AsyncResult:
        """Fix this call's task id now and return the result handle it will have."""
        options = self.options
        if _id is not None:
            options["task_id"] = _id
        options.setdefault("task_id", self.app.new_id())
        for key, value in (
            ("group_id", group_id),
            ("root_id", root_id),
            ("parent_id", parent_id),
            ("group_index", group_index),
        ):
            if value is not None:
                options[key] = value
        return AsyncResult(options["task_id"], app=self.app, task_name=self.task)

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        new_args, new_kwargs, _ = self._merge(args, kwargs)
        return self.type(*new_args, **new_kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(
        self, args: Any = None, kwargs: Any = None, route_name: Any = None, **options: Any
    ) -> Any:
        """Send this call (merged with ``args``/``kwargs``/``options``); eager under ``task_always_eager``."""
        app = self.app
        if app.conf.task_always_eager:
            new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
            task = app.tasks.get(self.task)
            if task is not None:
                return task.apply_async(new_args, new_kwargs, **new_options)
        result, items = self.build(args, kwargs, options)
        app.enqueue(items)
        return result

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> EagerResult:
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        return self.type.apply(new_args, new_kwargs, **new_options)

    def build(self, args: Any = None, kwargs: Any = None, options: Any = None) -> tuple[Any, Items]:
        """The result handle and the messages this call will send (nothing is sent yet)."""
        app = self.app
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        task = app.tasks.get(self.task)
        if task is not None:
            task.check_arguments(new_args, new_kwargs)
        task_id = new_options.pop("task_id", None) or app.new_id()
        for unused in ("subtask_type", "immutable", "route_name", "add_to_parent", "producer", "shadow"):
            new_options.pop(unused, None)
        message, delay = app.build_message(
            self.task, new_args, new_kwargs, task_id=task_id, task=task, **new_options
        )
        return app.result_for_message(message), [(message, delay)]

    def __or__(self, other: Any) -> Any:
        if isinstance(other, group):
            other = maybe_unroll_group(other)
            if isinstance(other, group) and not other.tasks:
                return _chain(self, app=self._app)
        if isinstance(other, _chain):
            return _chain(self, *other.tasks, app=self._app)
        if isinstance(other, Signature):
            return _chain(self, other, app=self._app)
        return NotImplemented

    def __invert__(self) -> Any:
        return self.apply_async().get()

    def __json__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: Any) -> Signature:
        return Signature.from_dict(copy.deepcopy(dict(self), memo), app=self._app)

    def __repr__(self) -> str:
        return self.reprcall()

    def reprcall(self, *args: Any, **kwargs: Any) -> str:
        """``name(args, kwargs)`` with ``args`` prepended, as Celery prints a call."""
        new_args, new_kwargs, _ = (
            self._merge(args, kwargs)
            if not self.immutable
            else (args + self.args, {**self.kwargs, **kwargs}, None)
        )
        parts = [repr(arg) for arg in new_args] + [f"{key}={value!r}" for key, value in new_kwargs.items()]
        return f"{self.task}({', '.join(parts)})"


def without_repeated_module(task_name: str | None, text: str) -> str:
    """Keep the first ``module.`` prefix of ``task_name`` in ``text`` and drop the repeats (Celery's repr)."""
    module = (task_name or "").rpartition(".")[0]
    if not module:
        return text
    prefix = module + "."
    first = text.find(prefix)
    if first < 0:
        return text
    head, tail = text[: first + len(prefix)], text[first + len(prefix) :]
    return head + tail.replace(prefix, "")


def signature(varies: Any, *args: Any, **kwargs: Any) -> Signature:
    """``signature('name', args=..., kwargs=...)`` or ``signature(dict)``; a Signature is returned as is."""
    app = kwargs.pop("app", None)
    if isinstance(varies, dict):
        if isinstance(varies, Signature):
            return varies.clone()
        return Signature.from_dict(varies, app=app)
    return Signature(varies, *args, app=app, **kwargs)


subtask = signature


def maybe_unroll_group(value: Any) -> Any:
    """A one-member group is that member (Celery unrolls it when chaining)."""
    if isinstance(value, group) and len(value.tasks) == 1:
        return value.tasks[0].clone(**value.options)
    return value


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
            if isinstance(task, group) and not task.tasks:
                continue
            if steps and isinstance(steps[-1], group) and not isinstance(task, group):
                steps[-1] = chord(steps[-1], task, app=self._app)
            elif steps and isinstance(steps[-1], group) and isinstance(task, group):
                steps[-1] = chord(steps[-1], task, app=self._app)
            elif steps and isinstance(steps[-1], chord) and not isinstance(task, group):
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
        steps = self.steps()
        self["kwargs"]["tasks"] = steps
        result = None
        for step in steps:
            frozen = freeze_step(step)
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
        if isinstance(other, group):
            other = maybe_unroll_group(other)
            if isinstance(other, group) and not other.tasks:
                return self.clone()
        if isinstance(other, _chain):
            return _chain(*self.tasks, *other.tasks, app=self._app, **self.options)
        if isinstance(other, Signature):
            if self.tasks and isinstance(self.tasks[-1], group):
                return _chain(*self.tasks[:-1], chord(self.tasks[-1], other, app=self._app), app=self._app)
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


def _listify(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
                if not isinstance(task, (group, _chain))
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
            if isinstance(task, _chain):
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
        if isinstance(other, (Signature,)) and not isinstance(other, _chain):
            return chord(self, other, app=self._app)
        if isinstance(other, _chain):
            return _chain(self, *other.tasks, app=self._app)
        return NotImplemented

    def __repr__(self) -> str:
        if not self.tasks:
            return "group(<empty>)"
        return without_repeated_module(self.tasks[0].task, f"group({tuple(self.tasks)!r})")


def _chain_with_member_options(task: _chain, group_id: str, index: int) -> _chain:
    """A group member that is a chain carries the group id on its last step (whose result counts)."""
    steps = task.steps()
    if steps:
        steps[-1].options.update(group_id=group_id, group_index=index)
    clone = _chain(*steps, app=task._app, **task.options)
    clone["kwargs"]["tasks"] = steps
    return clone


@Signature.register_type("chord")
class chord(Signature):
    """A group (the header) and a task (the body) that receives the list of the header's results."""

    def __init__(self, header: Any, body: Any = None, app: Any = None, **options: Any) -> None:
        header = header if isinstance(header, group) else group(header, app=app)
        app = app or header._app or getattr(body, "_app", None)
        body_sig = Signature.from_any(body, app=app) if body is not None else None
        Signature.__init__(
            self,
            "celery.chord",
            (),
            {"header": header, "body": body_sig},
            options,
            subtask_type="chord",
            app=app,
        )

    @classmethod
    def from_dict(cls, data: dict, app: Any = None) -> chord:
        kwargs = data["kwargs"]
        header = group.from_dict(kwargs["header"], app=app)
        body = Signature.from_dict(kwargs["body"], app=app) if kwargs.get("body") else None
        return cls(header, body, app=app, **(data.get("options") or {}))

    header = property(lambda self: self["kwargs"]["header"])
    body = property(lambda self: self["kwargs"]["body"])
    tasks = property(lambda self: self.header.tasks)

    def with_body(self, body: Signature) -> chord:
        return chord(self.header, body, app=self._app, **self.options)

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> chord:
        return chord(
            self.header.clone(args, kwargs),
            self.body.clone() if self.body else None,
            app=self._app,
            **{**self.options, **opts},
        )

    def __call__(self, body: Any = None, **options: Any) -> Any:
        target = self.with_body(Signature.from_any(body, app=self._app)) if body is not None else self
        return target.apply_async(**options)

    def freeze(self, _id: str | None = None, **kwargs: Any) -> Any:
        header_result = self.header.freeze()
        body_result = (
            self.body.freeze(_id) if not isinstance(self.body, (group, _chain)) else self.body.freeze()
        )
        if isinstance(body_result, AsyncResult) and not isinstance(body_result, GroupResult):
            body_result.parent = header_result
        return body_result

    def link(self, callback: Any) -> Any:
        return self.body.link(callback)

    def link_error(self, errback: Any) -> Any:
        return self.body.link_error(errback)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        app = self.app
        if self.body is None:
            raise TypeError("chord() needs a body: chord(header)(body) or chord(header, body)")
        if not app.backend.enabled:
            raise NotImplementedError(
                "Starting chords requires a result backend to be configured, but none was configured."
            )
        if app.conf.task_always_eager:
            return self.apply(args, kwargs, **options)
        result, items = self.build(args, kwargs, options)
        app.enqueue(items)
        return result

    def build(self, args: Any = None, kwargs: Any = None, options: Any = None) -> tuple[Any, Items]:
        options = dict(options or {})
        chain_rest = options.pop("chain", None)
        body = self.body.clone()
        for key in ("link", "link_error"):
            for value in _listify(options.pop(key, None)):
                getattr(body, key)(value)
        if chain_rest:
            body = _chain(
                body, *[Signature.from_dict(step, app=self._app) for step in chain_rest], app=self._app
            )
        body_result = freeze_step(body)
        header = self.header.clone()
        if not header.tasks:
            _, items = body.build(([],), None, options)
            return body_result, items
        header_result = header.freeze(options.pop("task_id", None))
        if isinstance(body_result, AsyncResult) and not isinstance(body_result, GroupResult):
            body_result.parent = header_result
        self.app.backend.save_group(header_result.id, header_result.as_tuple())
        info = {"id": header_result.id, "size": len(header.tasks), "body": dict(body)}
        _, items = header.build(args, kwargs, {**options, "chord": info})
        return body_result, items

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        header_result = self.header.clone(args, kwargs).apply()
        values = header_result.get(propagate=True, disable_sync_subtasks=False)
        return self.body.clone((values,)).apply(**options)

    def __or__(self, other: Any) -> Any:
        if isinstance(other, Signature) and not isinstance(other, group) and self.body is not None:
            return self.with_body(self.body | other)
        return super().__or__(other)

    def __repr__(self) -> str:
        if self.body is None:
            return f"chord({list(self.tasks)!r})"
        return "%" + without_repeated_module(self.body.task, self.body.reprcall(list(self.tasks)))

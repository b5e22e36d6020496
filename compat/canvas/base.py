"""Signatures: a task call that can be passed around (a dict, so it travels as JSON inside messages).

Partial args are prepended at call time, kwargs merged with the call's winning; immutable signatures ignore
both. Sending builds every Dramatiq message first and enqueues them in one round trip. The composite
signatures (``chains``, ``groups``, ``chords``) register themselves in ``Signature.TYPES``.
"""

from __future__ import annotations

import copy
from typing import Any

from dramatiq.message import Message

from ..results import AsyncResult, EagerResult
from ..task import has_custom

Items = list[tuple[Message, Any]]


def _app(app: Any) -> Any:
    if app is not None:
        return app
    from ..app import get_current_app

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
    name = property(lambda self: self.get("task"))
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
        """The result handle and the messages this call will send (nothing is sent yet, unless the task's
        class overrides ``apply_async``: that sends at once)."""
        app = self.app
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        task = app.tasks.get(self.task)
        if task is not None and has_custom(task, "apply_async"):
            # Celery sends a signature through its task's apply_async: an overriding class sends it now
            for unused in ("subtask_type", "immutable", "route_name"):
                new_options.pop(unused, None)
            return task.apply_async(new_args, new_kwargs, **new_options), []
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
        group, chain = self.TYPES["group"], self.TYPES["chain"]
        if isinstance(other, group):
            other = maybe_unroll_group(other)
            if isinstance(other, group) and not other.tasks:
                return chain(self, app=self._app)
        if isinstance(other, chain):
            return chain(self, *other.tasks, app=self._app)
        if isinstance(other, Signature):
            return chain(self, other, app=self._app)
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
    if isinstance(value, Signature.TYPES["group"]) and len(value.tasks) == 1:
        return value.tasks[0].clone(**value.options)
    return value


def _listify(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]

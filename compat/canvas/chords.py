"""``chord``: a group (the header) and a task (the body) that receives the list of the header's results.

The header's members count themselves in the chord's barrier as they succeed (``compat.results``); the
one that completes it sends the body (``compat.middleware.canvas``).
"""

from __future__ import annotations

from typing import Any

from ..results import AsyncResult, GroupResult
from . import chains, groups
from .base import Items, Signature, _listify, without_repeated_module


@Signature.register_type("chord")
class chord(Signature):
    """A group (the header) and a task (the body) that receives the list of the header's results."""

    def __init__(self, header: Any, body: Any = None, app: Any = None, **options: Any) -> None:
        header = header if isinstance(header, groups.group) else groups.group(header, app=app)
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
        header = groups.group.from_dict(kwargs["header"], app=app)
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
            self.body.freeze()
            if isinstance(self.body, (groups.group, chains._chain))
            else self.body.freeze(_id)
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
            body = chains._chain(
                body, *[Signature.from_dict(step, app=self._app) for step in chain_rest], app=self._app
            )
        body_result = chains.freeze_step(body)
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
        if isinstance(other, Signature) and not isinstance(other, groups.group) and self.body is not None:
            return self.with_body(self.body | other)
        return super().__or__(other)

    def __repr__(self) -> str:
        if self.body is None:
            return f"chord({list(self.tasks)!r})"
        return "%" + without_repeated_module(self.body.task, self.body.reprcall(list(self.tasks)))

"""Signatures and tasks every app has: Celery's ``celery.map``/``celery.starmap`` (behind ``map``,
``starmap`` and ``chunks``), ``celery.accumulate`` (``Task.replace`` with a group), and the alert digest
sender."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import Signature
from .groups import group


def register_builtins(app: Any) -> None:
    """Declare the built-in tasks on ``app`` (workers then consume and run them)."""

    def run_map(task: dict, it: list) -> list:
        function = app.tasks[task["task"]]
        return [function(item) for item in it]

    def run_starmap(task: dict, it: list) -> list:
        function = app.tasks[task["task"]]
        return [function(*item) for item in it]

    def alert_digest() -> int:
        from ..alerts import send_digest

        return send_digest(app)

    def accumulate(*args: Any, index: int | None = None) -> Any:  # the body a group replacement gets
        return args[index] if index is not None else args

    app._task_from_fun(run_map, name="celery.map")
    app._task_from_fun(accumulate, name="celery.accumulate")
    app._task_from_fun(run_starmap, name="celery.starmap")
    app._task_from_fun(alert_digest, name="compat.alert_digest", ignore_result=True)


class xmap(Signature):
    """``task.map(it)``: one task that applies the task's function to each item."""

    def __init__(self, task: Signature, it: Iterable, app: Any = None) -> None:
        Signature.__init__(self, "celery.map", (), {"task": dict(task), "it": list(it)}, app=app)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return self.app.tasks["celery.map"].apply_async((), dict(self.kwargs), **options)


class xstarmap(Signature):
    """``task.starmap(it)``: one task that applies the task's function to each argument tuple."""

    def __init__(self, task: Signature, it: Iterable, app: Any = None) -> None:
        Signature.__init__(
            self, "celery.starmap", (), {"task": dict(task), "it": [list(i) for i in it]}, app=app
        )

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return self.app.tasks["celery.starmap"].apply_async((), dict(self.kwargs), **options)


class chunks(Signature):
    """``task.chunks(it, n)``: a group of ``starmap`` tasks, each over ``n`` items."""

    def __init__(self, task: Signature, it: Iterable, n: int, app: Any = None) -> None:
        Signature.__init__(
            self, "celery.chunks", (), {"task": dict(task), "it": [list(i) for i in it], "n": n}, app=app
        )

    def group(self) -> group:
        items, n, task = self.kwargs["it"], self.kwargs["n"], self.kwargs["task"]
        parts = [items[i : i + n] for i in range(0, len(items), n)]
        return group(
            [xstarmap(Signature.from_dict(task, app=self._app), part, app=self._app) for part in parts],
            app=self._app,
        )

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return self.group().apply_async(**options)

    def __call__(self, **options: Any) -> Any:
        return self.apply_async(**options)

"""Tasks every app has, as in Celery: ``celery.map`` and ``celery.starmap`` (behind ``map``/``chunks``)."""

from __future__ import annotations

from typing import Any


def register_builtins(app: Any) -> None:
    """Declare the built-in tasks on ``app`` (workers then consume and run them)."""

    def run_map(task: dict, it: list) -> list:
        function = app.tasks[task["task"]]
        return [function(item) for item in it]

    def run_starmap(task: dict, it: list) -> list:
        function = app.tasks[task["task"]]
        return [function(*item) for item in it]

    app._task_from_fun(run_map, name="celery.map")
    app._task_from_fun(run_starmap, name="celery.starmap")

"""Tasks every app has: Celery's ``celery.map``/``celery.starmap`` (behind ``map``/``chunks``), and the
alert digest sender."""

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

    def alert_digest() -> int:
        from .alerts import send_digest

        return send_digest(app)

    app._task_from_fun(run_map, name="celery.map")
    app._task_from_fun(run_starmap, name="celery.starmap")
    app._task_from_fun(alert_digest, name="compat.alert_digest", ignore_result=True)

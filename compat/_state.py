"""What is current: the app and the task executing in this thread (Celery's ``celery._state``).

``current_task`` is the innermost task executing here (run by a worker, applied eagerly, or called
directly); ``get_current_worker_task()`` the innermost one that was not called directly (what a worker or
``apply`` runs), as in Celery. Both read the stack ``compat.request`` keeps of executing tasks; outside a
task they are None (``bool(current_task)`` is False).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import request as requests


def get_current_app() -> Any:
    """The current app (``compat.app.get_current_app``)."""
    from .app import get_current_app as current

    return current()


def get_current_task() -> Any:
    """The task executing in this thread, or None."""
    running = requests.current()
    return running[0] if running is not None else None


def get_current_worker_task() -> Any:
    """The innermost executing task that was not called directly (a worker's, or ``apply``'s), or None."""
    for task, request in reversed(requests.executing_stack()):
        if not request.called_directly:
            return task
    return None


class Proxy:
    """Forwards to what ``getter()`` returns now (Celery's ``current_app``/``current_task`` proxies)."""

    __slots__ = ("_getter",)

    def __init__(self, getter: Callable[[], Any]) -> None:
        object.__setattr__(self, "_getter", getter)

    def _get_current_object(self) -> Any:
        return self._getter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._getter(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._getter(), name, value)

    def __bool__(self) -> bool:
        return bool(self._getter())

    def __eq__(self, other: object) -> bool:
        return self._getter() == other

    def __ne__(self, other: object) -> bool:
        return self._getter() != other

    def __hash__(self) -> int:
        return hash(self._getter())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._getter()(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self._getter())


current_app: Any = Proxy(get_current_app)
current_task: Any = Proxy(get_current_task)

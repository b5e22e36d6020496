"""``app.AsyncResult`` and ``app.GroupResult`` as Celery has them: classes bound to the app.

Celery's are subclasses made for each app, so ``app.GroupResult.restore(group_id)`` and
``isinstance(result, app.AsyncResult)`` work as well as ``app.AsyncResult(task_id)``.
"""

from __future__ import annotations

from typing import Any


def bound_to(cls: type, bound_app: Any) -> type:
    """A subclass of ``cls`` whose instances (and ``restore()``) default to ``bound_app``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("app", bound_app)
        cls.__init__(self, *args, **kwargs)

    attrs: dict[str, Any] = {"__init__": __init__, "__module__": cls.__module__, "bound_base": cls}
    if hasattr(cls, "restore"):

        def restore(_cls: type, id: str, backend: Any = None, app: Any = None) -> Any:
            return cls.restore(id, backend=backend, app=app or bound_app)

        attrs["restore"] = classmethod(restore)
    return type(cls.__name__, (cls,), attrs)

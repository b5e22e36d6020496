"""Link callbacks and errbacks, run after a task ends (in the worker, or inline in eager mode)."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from .base import Signature, _listify

logger = logging.getLogger("compat.canvas")


def apply_callbacks(
    app: Any, callbacks: Any, value: Any, *, parent_id: str | None, root_id: str | None
) -> None:
    """Send each ``link`` callback with the result prepended (immutable ones ignore it)."""
    for callback in _listify(callbacks):
        sig = Signature.from_any(callback, app=app)
        sig.apply_async((value,), parent_id=parent_id, root_id=root_id)


def errback_is_new_style(app: Any, sig: Signature) -> bool:
    """Celery calls an errback inline as ``(request, exc, traceback)`` when it takes more than one arg."""
    task = app.tasks.get(sig.task)
    if task is None or task.bind:
        return False
    try:
        parameters = inspect.signature(task._function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return False
    return len(positional) - len(sig.args) > 1


def run_errbacks(
    app: Any, errbacks: Any, request: Any, exc: BaseException, traceback_text: str, *, eager: bool = False
) -> None:
    """Run ``link_error`` errbacks in both of Celery's styles; an errback's own failure is only logged."""
    for errback in _listify(errbacks):
        sig = Signature.from_any(errback, app=app)
        try:
            if errback_is_new_style(app, sig):
                sig.type(request, exc, traceback_text)
            elif eager:
                sig.clone((request.id,)).apply()
            else:
                sig.apply_async((request.id,), parent_id=request.id, root_id=request.root_id)
        except Exception:
            logger.exception("errback %r raised", sig)

"""Celery's ``Task.replace(sig)``: the running task hands its place to ``sig``.

As in Celery (``celery/app/task.py``): ``sig`` is frozen with the running task's id, so the original id
(and every result handle already given out for it) resolves to the replacement's outcome (a chain's last
task, a group's list of results through ``celery.accumulate``); it inherits the task's callbacks,
errbacks, group, group index and chord membership, and the rest of the chain the task was in runs after it.
The task's ``on_replace(sig)`` then runs it: on a worker the replacement is sent and the task ends with
``Ignore`` (no state of its own is stored); in eager mode it runs inline and its value is returned. A
class overriding ``on_replace`` must return ``super().on_replace(sig)``, as in Celery.
"""

from __future__ import annotations

from typing import Any

from .canvas import Signature, _chain, chord, group, signature
from .exceptions import Ignore, ImproperlyConfigured


def replace(task: Any, sig: Signature) -> Any:
    """Replace the running execution of ``task`` with ``sig`` (Celery's ``Task.replace``)."""
    request = task.request
    if "chord" in sig.options:
        raise ImproperlyConfigured("A signature replacing a task must not be part of a chord")
    if isinstance(sig, _chain) and not sig.tasks:
        raise ImproperlyConfigured("Cannot replace with an empty chain")
    app = task.app
    if isinstance(sig, group):  # a group becomes a chord whose body gives the list to the original id
        sig = chord(sig, app.tasks["celery.accumulate"].s(index=0), app=app)
    target = _last(sig)
    for callback in _listed(request.callbacks):
        target.link(Signature.from_any(callback, app=app))
    for errback in _listed(request.errbacks):
        sig.link_error(Signature.from_any(errback, app=app))
    sig.freeze(request.id)
    membership = {"chord": request.chord, "group_id": request.group, "group_index": request.group_index}
    target.set(**{key: value for key, value in membership.items() if value is not None})
    rest = [signature(step, app=app) for step in request.chain or ()]
    if rest:
        sig = _chain(sig, *rest, app=app)
    return task.on_replace(sig)


def run_replacement(task: Any, sig: Signature) -> Any:
    """``Task.on_replace``'s default: run ``sig`` inline (eager) or send it and end with ``Ignore``."""
    if task.request.is_eager:
        return sig.apply().get()  # inside an eager delay() this raises, as Celery's does
    sig.delay()
    raise Ignore("Replaced by new task")


def _last(sig: Signature) -> Signature:
    """The signature whose result is the replacement's: a chain's last step, a chord's body."""
    if isinstance(sig, _chain):
        return _last(sig.tasks[-1])
    if isinstance(sig, chord):
        return _last(sig.body)
    return sig


def _listed(value: Any) -> list:
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]

"""Task classes on one stack (issue 16): the app's ``task_cls``, ``base=`` classes overriding
``apply_async``/``__call__``, ``task_annotations``, ``current_task`` and ``Task.replace``.

celery_classes.py and compat_classes.py are identical except for the import line marked below
(test_stacks.py checks it). The stack's tasks module imports this one (and names it ``task_cls``);
tasks declared here are registered on that module's app, so each stack's worker runs them.
"""

# ruff: noqa: I001  (the stack import stays on its own line, identical in both files)
from __future__ import annotations

import contextlib
import importlib
import threading
import time

from compat import Task  # STACK IMPORT: the only line that differs between the stacks

STACK = __name__.rsplit(".", 1)[-1].split("_")[0]  # "celery" or "compat"
_tasks = importlib.import_module(f"tests.conformance.stacks.{STACK}_tasks")
_stack = importlib.import_module(STACK)
_state = importlib.import_module(f"{STACK}._state")
app, record = _tasks.app, _tasks.record


class AppTask(Task):
    """The conformance app's ``task_cls`` (given as a ``"module:Class"`` string)."""

    stamp = "app-task"


class Annotations:
    """A ``task_annotations`` object: attributes and a handler for one task, nothing for the others."""

    def annotate(self, task):
        if task.name == "conformance.anno_handler":
            return {"on_failure": _annotated_on_failure, "max_retries": 7}
        return None


def _annotated_on_failure(self, exc, task_id, args, kwargs, einfo):
    same = task_id == self.request.id
    record(args[0], ["annotated on_failure", type(exc).__name__, same, einfo.type.__name__])


# -- a DefectDojo-style context carried by apply_async and restored by __call__ -----------------------
_context = threading.local()


def user():
    return getattr(_context, "user", None)


@contextlib.contextmanager
def as_user(name):
    previous, _context.user = user(), name
    try:
        yield
    finally:
        _context.user = previous


class ContextTask(AppTask):
    """Every send carries the sender's user in the kwargs; the task runs as that user."""

    typing = False  # the sent kwargs carry ``_user``, which the functions do not take (__call__ pops it)

    def apply_async(self, args=None, kwargs=None, **options):
        kwargs = dict(kwargs or {})
        kwargs.setdefault("_user", user() or "nobody")
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, **kwargs):
        with as_user(kwargs.pop("_user", None)):
            return super().__call__(*args, **kwargs)


@app.task(base=ContextTask)
def ctx_step(trail, label):
    return [*trail, [label, user()]]


@app.task(base=ContextTask)
def ctx_collect(results):
    return [results, user()]


@app.task(base=ContextTask, bind=True, max_retries=1, default_retry_delay=0.05)
def ctx_retry(self, label):
    if self.request.retries < 1:
        raise self.retry()
    return [label, user(), self.request.retries]


@app.task(base=ContextTask, bind=True)
def ctx_request(self, label):
    r = self.request
    return [label, user(), r.id is not None, r.called_directly, sorted(r.kwargs or {})]


# -- defaults of a task's attributes -----------------------------------------------------------------
@app.task(base=AppTask)
def plain_attrs():
    return "plain"


@app.task(base=AppTask, ignore_result=False, acks_late=True, track_started=True, priority=4, typing=False)
def set_attrs():
    return "set"


# -- annotations (see task_annotations in the tasks module) -------------------------------------------
@app.task(base=AppTask, name="conformance.anno_attrs", max_retries=1, bind=True)
def anno_attrs(self):
    return [self.max_retries, self.default_retry_delay, getattr(self, "anno_star", None)]


@app.task(base=AppTask, name="conformance.anno_handler")
def anno_handler(key):
    raise KeyError("annotated")


@app.task(base=AppTask, name="conformance.anno_routed", bind=True)
def anno_routed(self):
    return (self.request.delivery_info or {}).get("routing_key")


# -- current_task ------------------------------------------------------------------------------------
@app.task(base=AppTask, bind=True)
def who_is_current(self):
    current, worker = _state.get_current_task(), _state.get_current_worker_task()
    return [current is self, worker is self, worker is None, _stack.current_task.name == self.name,
            bool(_stack.current_task), current.request.id == self.request.id]


@app.task(base=AppTask, bind=True)
def outer_current(self):
    inner = who_is_current()  # a direct call inside a running task
    return [inner, _state.get_current_task() is self, _stack.current_app.tasks[self.name] is self]


@app.task(base=AppTask, bind=True)
def countdown(self, n):
    """Calls itself directly: each inner call sees the running request with its own arguments."""
    here = [n, self.request.called_directly, self.request.id is not None, list(self.request.args)]
    return [here] if n == 0 else [here, *countdown(n - 1)]


# -- Task.replace ------------------------------------------------------------------------------------
@app.task(base=AppTask, bind=True)
def replace_with(self, value, how="task"):
    add, mul, fail = _tasks.add, _tasks.mul, _tasks.fail
    if how == "task":
        return self.replace(add.s(value, 1))
    if how == "chain":
        return self.replace(add.s(value, 1) | mul.s(10))
    if how == "group":
        return self.replace(_stack.group(add.s(value, 1), add.s(value, 2)))
    if how == "fail":
        return self.replace(fail.s("replaced"))
    return "kept"


# -- fidelity ------------------------------------------------------------------------------------------
@app.task(base=AppTask, bind=True, max_retries=1, default_retry_delay=0.3)
def retry_nothrow(self, key, how="continue"):
    if self.request.retries < 1:
        retry = self.retry(throw=False)
        if how == "return":
            return retry
        return ["after retry", type(retry).__name__]
    return ["retried", self.request.retries]


@app.task(base=AppTask, time_limit=0.5)
def hard_limited(key):
    """kpi's shape: clean up on either time limit (Celery kills the process at the hard one instead)."""
    exceptions = _tasks.exceptions()
    try:
        for _ in range(100):
            time.sleep(0.05)
    except (exceptions.SoftTimeLimitExceeded, exceptions.TimeLimitExceeded) as exc:
        record(key, ["cleaned up", type(exc).__name__])
        raise
    return "finished"


__all__ = [
    "AppTask", "Annotations", "ContextTask", "as_user", "user", "ctx_step", "ctx_collect", "ctx_retry",
    "ctx_request", "plain_attrs", "set_attrs", "anno_attrs", "anno_handler", "anno_routed", "who_is_current",
    "outer_current", "countdown", "replace_with", "retry_nothrow", "hard_limited",
]

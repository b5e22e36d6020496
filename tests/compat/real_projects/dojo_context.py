"""A DefectDojo-style app: every task's class (``task_cls``, a string) carries the user who sent it."""

from __future__ import annotations

import contextlib
import os
import threading

from celery import Celery, Task, chain, group

_local = threading.local()


def get_current_user():
    return getattr(_local, "user", None)


@contextlib.contextmanager
def impersonate(user):
    previous, _local.user = get_current_user(), user
    try:
        yield
    finally:
        _local.user = previous


class DojoAsyncTask(Task):
    """Adds the sender's user to the kwargs; runs the task as that user."""

    typing = False  # the kwargs carry async_user, which the functions do not take

    def apply_async(self, args=None, kwargs=None, **options):
        kwargs = dict(kwargs or {})
        if "async_user" not in kwargs:
            kwargs["async_user"] = get_current_user()
        return super().apply_async(args=args, kwargs=kwargs, **options)

    def __call__(self, *args, **kwargs):
        user = kwargs.pop("async_user", None)
        with impersonate(user):
            return super().__call__(*args, **kwargs)


app = Celery(
    "dojo_like",
    broker=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    task_cls=f"{__name__}:DojoAsyncTask",
)
app.conf.update(
    task_default_queue="dojo",
    broker_namespace=os.environ.get("REAL_PROJECT_NS", "dojo"),
    result_namespace=os.environ.get("REAL_PROJECT_NS", "dojo") + "-res",
)


@app.task
def import_scan(scan_id):
    return {"scan": scan_id, "user": get_current_user()}


@app.task
def dedupe(previous, finding_id):
    return [previous, {"finding": finding_id, "user": get_current_user()}]


def send_all(user):
    """What a view does: send one task by signature, a chain and a group, as ``user``."""
    with impersonate(user):
        return {
            "signature": import_scan.s(1).delay(),
            "chain": chain(import_scan.s(2), dedupe.s(20)).apply_async(),
            "group": group(import_scan.s(3), import_scan.s(4)).apply_async(),
        }

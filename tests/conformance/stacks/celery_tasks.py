"""The conformance tasks on one stack. celery_tasks.py and compat_tasks.py are identical except for the
import line marked below (test_stacks.py checks it), so both stacks run the very same task code.

Imported by the test process and by that stack's real worker; URLs and namespaces come from the
environment the conformance conftest sets (``CONFORMANCE_<STACK>_BROKER`` ...).
"""

# ruff: noqa: I001  (the stack import stays on its own line, identical in both files)
from __future__ import annotations

import importlib
import json
import os
import time

import redis

from celery import Celery, shared_task  # STACK IMPORT: the only line that differs between the stacks

STACK = __name__.rsplit(".", 1)[-1].split("_")[0]  # "celery" or "compat"
_ENV = os.environ
_PREFIX = f"CONFORMANCE_{STACK.upper()}_"

app = Celery(
    "conformance",
    broker=_ENV.get(_PREFIX + "BROKER", "memory://"),
    backend=_ENV.get(_PREFIX + "BACKEND", "cache+memory://"),
    task_cls=f"tests.conformance.stacks.{STACK}_classes:AppTask",  # a "module:Class" string, resolved late
)
app.conf.update(
    task_default_queue="conf",
    task_routes={
        "*.routed_*": {"queue": "conf_routed"},
        "conformance.never.sent": {"queue": "conf_explicit"},
    },
    # Annotations (issue 16): an object (by import path) first, then a dict; '*' wins over a task's own entry.
    task_annotations=[
        f"tests.conformance.stacks.{STACK}_classes:Annotations",
        {"conformance.anno_attrs": {"max_retries": 5, "anno_star": "own"},
         "conformance.anno_routed": {"queue": "conf_routed"},
         "*": {"anno_star": "star"}},
    ],
    # compat-only settings (Celery stores unknown keys and ignores them):
    broker_namespace=_ENV.get(_PREFIX + "NAMESPACE", "conformance"),
    result_namespace=_ENV.get(_PREFIX + "NAMESPACE", "conformance") + "-res",
)

_side: list[redis.Redis] = []


def side() -> redis.Redis:
    """The side channel tasks write to (counters, callback records), shared by both stacks."""
    if not _side:
        _side.append(redis.Redis.from_url(_ENV.get("CONFORMANCE_SIDE", "redis://127.0.0.1:6379/15")))
    return _side[0]


def bump(key: str) -> int:
    """Count one attempt under ``key`` and return the count so far."""
    client = side()
    count = client.incr(key)
    client.expire(key, 600)
    return count


def record(key: str, value) -> None:
    client = side()
    client.rpush(key, json.dumps(value, default=repr))
    client.expire(key, 600)


def exceptions():
    """This stack's ``exceptions`` module (``celery.exceptions`` or ``compat.exceptions``)."""
    return importlib.import_module(f"{STACK}.exceptions")


class CustomError(Exception):
    """A user's own exception class (rebuilt by name on the caller's side)."""


# -- plain tasks -------------------------------------------------------------------------------------
@app.task
def add(a, b):
    return a + b


@app.task
def mul(a, b):
    return a * b


@app.task
def tsum(numbers, extra=0):
    return sum(numbers) + extra


@app.task
def identity(value):
    return value


@app.task
def echo(*args, **kwargs):
    return {"args": args, "kwargs": kwargs}


@app.task
def kw_only(a, *, scale=1, offset=0):
    return a * scale + offset


@app.task
def describe(value):
    return {"type": type(value).__name__, "value": value}


@app.task
def slow(seconds, value):
    time.sleep(seconds)
    return value


@app.task
def fail(message="boom"):
    raise ValueError(message)


@app.task
def fail_custom(code):
    raise CustomError("custom", code)


@app.task
def returns_tuple():
    return (1, 2)


@app.task
def returns_object():
    return object()


@app.task(typing=False)
def loose(a, b):
    return a + b


@app.task(ignore_result=True)
def ignored(key, value):
    record(key, value)
    return value


@app.task(name="conformance.named")
def named():
    return "named"


@shared_task
def shared_add(a, b):
    return a + b


@app.task(bind=True)
def req(self, *args, **kwargs):
    """This call's request, as the task sees it."""
    r = self.request
    info = r.delivery_info or {}
    return {
        "id": r.id, "retries": r.retries, "args": r.args, "kwargs": r.kwargs, "is_eager": r.is_eager,
        "called_directly": r.called_directly, "root_id": r.root_id, "parent_id": r.parent_id,
        "group": r.group, "routing_key": info.get("routing_key"), "priority": info.get("priority"),
        "name": self.name,
    }


@app.task(bind=True)
def routed_req(self):
    return (self.request.delivery_info or {}).get("routing_key")


@app.task(bind=True)
def spawn(self, value):
    """Send a child ``req``, wait for it (allowed explicitly) and report how the ids relate."""
    child = req.delay(value)
    seen = child.get(timeout=10, disable_sync_subtasks=False)
    me = self.request
    return {"child_id_is_result_id": seen["id"] == child.id, "child_parent_is_me": seen["parent_id"] == me.id,
            "child_root_is_my_root": seen["root_id"] == me.root_id, "my_root_is_me": me.root_id == me.id,
            "child_is_eager": seen["is_eager"], "child_args": seen["args"]}


@app.task(bind=True)
def req_header(self):
    """A custom message header, as an attribute and in ``request.headers``."""
    return getattr(self.request, "h", None), (self.request.headers or {}).get("h")


@app.task(bind=True)
def progress(self):
    self.update_state(state="PROGRESS", meta={"done": 1})
    return "done"


@app.task(track_started=True)
def tracked(seconds):
    time.sleep(seconds)
    return "tracked"


@app.task(soft_time_limit=0.2)
def soft_limited(seconds):
    time.sleep(seconds)
    return "finished"


@app.task(soft_time_limit=2, time_limit=1)
def bad_limits():
    return "never"


@app.task
def ignore_me():
    raise exceptions().Ignore()


@app.task
def get_inside():
    return identity.delay(1).get(timeout=5)


# -- retries -----------------------------------------------------------------------------------------
@app.task(bind=True, default_retry_delay=0.05)
def retry_until(self, key, failures):
    attempts = bump(key)
    if attempts <= failures:
        raise self.retry(exc=KeyError(f"attempt {attempts}"))
    return {"attempts": attempts, "retries": self.request.retries}


@app.task(bind=True, default_retry_delay=0.05, max_retries=2)
def retry_exhaust(self, key, with_exc):
    bump(key)
    if with_exc:
        raise self.retry(exc=KeyError("gone"))
    raise self.retry()


@app.task(bind=True, default_retry_delay=0.05)
def retry_override(self, key):
    bump(key)
    raise self.retry(max_retries=1)


@app.task(bind=True, default_retry_delay=0.02, max_retries=None)
def retry_unlimited(self, key, failures):
    attempts = bump(key)
    if attempts <= failures:
        raise self.retry()
    return attempts


@app.task(bind=True, default_retry_delay=0.05)
def retry_in_except(self, key):
    bump(key)
    try:
        raise ZeroDivisionError("inner")
    except ZeroDivisionError:
        raise self.retry(max_retries=0)


@app.task(bind=True, default_retry_delay=0.05)
def retry_new_args(self, value):
    if self.request.retries == 0:
        raise self.retry(args=(value * 10,))
    return {"value": value, "retries": self.request.retries}


@app.task(bind=True, default_retry_delay=1000)
def retry_later(self):
    raise self.retry(exc=KeyError("later"))


@app.task(bind=True, autoretry_for=(KeyError,), retry_kwargs={"max_retries": 2, "countdown": 0.05})
def auto_retry(self, key, failures):
    attempts = bump(key)
    if attempts <= failures:
        raise KeyError(f"attempt {attempts}")
    return attempts


@app.task(bind=True, autoretry_for=(Exception,), dont_autoretry_for=(ValueError,), default_retry_delay=0.05)
def auto_retry_except(self, key):
    bump(key)
    raise ValueError("not retried")


@app.task(bind=True, autoretry_for=(KeyError,), retry_backoff=2, retry_jitter=False, max_retries=3)
def backoff(self, key):
    bump(key)
    raise KeyError("backoff")


@app.task(bind=True, autoretry_for=(KeyError,), retry_backoff=True, retry_backoff_max=0, retry_jitter=False,
          max_retries=2)
def backoff_capped(self, key):
    bump(key)
    raise KeyError("capped")


# -- callbacks ---------------------------------------------------------------------------------------
@app.task
def remember(value, key):
    """A link callback: records the value it was given."""
    record(key, value)
    return value


@app.task
def errback_old(task_id):
    """An old-style errback: gets the failed task's id."""
    record(f"errback:{task_id}", "old")


@app.task
def errback_new(request, exc, traceback):
    """A new-style errback: called inline with the failed request, exception and traceback text."""
    record(f"errback:{request.id}", ["new", type(exc).__name__, str(exc), isinstance(traceback, str)])


@app.task(bind=True)
def errback_keyed(self, task_id, key):
    """A bound errback (always called old-style): records the failed task's id under ``key``."""
    record(key, task_id)


# -- signals and handlers (issue 16) -------------------------------------------------------------------
# Every task signal is recorded, in order, under the side-channel key a ``sig_*`` task gets as its first
# argument; other tasks are not recorded. Connected here so that each stack's worker records too.
_signals = importlib.import_module(f"{STACK}.signals")


def _keys(named) -> list:
    return sorted(["sender", "signal", *named])


def _key_of(args):
    args = list(args or ())
    return args[0] if args and isinstance(args[0], str) and args[0].startswith("conformance:sig:") else None


def _task_key(sender) -> str | None:
    request = getattr(sender, "request", None)
    return _key_of(getattr(request, "args", None))


def _einfo(einfo) -> list:
    return [type(einfo).__name__, einfo.type.__name__, einfo.traceback.startswith("Traceback"),
            str(einfo) == einfo.traceback]


def _summary(name, sender, named) -> list | None:  # noqa: C901 - one branch per signal, read in a row
    keys = _keys(named)
    if name in ("before_task_publish", "after_task_publish"):
        body, headers = named["body"], named["headers"]
        key = _key_of(body[0])
        if key is None:
            return None
        return [key, name, keys, sender, headers["task"], headers["retries"], list(body[0]), body[1],
                named["routing_key"], named["exchange"]]
    if name == "task_received":
        request = named["request"]
        key = _key_of(request.args)
        return key and [key, name, keys, list(request.args), request.id is not None]
    if name == "task_revoked":
        request = named["request"]
        key = _key_of(request.args)
        return key and [key, name, keys, named["expired"], named["terminated"]]
    if name in ("task_prerun", "task_postrun", "task_failure", "task_internal_error"):
        key = _key_of(named.get("args"))
        if key is None:
            return None
        row = [key, name, keys, list(named["args"]), named["kwargs"], named["task_id"] is not None]
        if name == "task_prerun":
            row += [named["task"] is sender, sender.request.id == named["task_id"]]
        if name == "task_postrun":
            retval = named["retval"]
            row += [repr(retval) if isinstance(retval, BaseException) else retval, named["state"]]
        if name in ("task_failure", "task_internal_error"):
            row += [type(named["exception"]).__name__, hasattr(named["traceback"], "tb_frame"),
                    _einfo(named["einfo"])]
        return row
    key = _task_key(sender)
    if key is None:
        return None
    if name == "task_success":
        return [key, name, keys, named["result"], isinstance(named["runtime"], float)]
    if name == "task_retry":
        reason = named["reason"]
        return [key, name, keys, type(reason).__name__, repr(reason.exc), named["request"].id is not None,
                _einfo(named["einfo"])]
    return None


def _recorder(name):
    def receive(sender=None, **named):
        named.pop("signal", None)
        row = _summary(name, sender, named)
        if row:
            record(row[0], row[1:])
    return receive


for _name in ("before_task_publish", "after_task_publish", "task_received", "task_prerun", "task_postrun",
              "task_success", "task_failure", "task_retry", "task_revoked", "task_internal_error"):
    getattr(_signals, _name).connect(_recorder(_name), weak=False, dispatch_uid=f"conformance:{_name}")


class Tracked(importlib.import_module(STACK).Task):
    """A base class recording every handler Celery calls, with what it was given."""

    def before_start(self, task_id, args, kwargs):
        record(args[0], ["before_start", task_id == self.request.id, list(args), kwargs])

    def on_success(self, retval, task_id, args, kwargs):
        record(args[0], ["on_success", retval, task_id == self.request.id, list(args), kwargs])

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        same = task_id == self.request.id
        record(args[0], ["on_failure", type(exc).__name__, same, list(args), _einfo(einfo)])

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        record(args[0], ["on_retry", repr(exc), task_id == self.request.id, _einfo(einfo)])

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        shown = repr(retval) if isinstance(retval, BaseException) else retval
        record(args[0], ["after_return", status, shown, task_id == self.request.id, einfo])


@app.task(base=Tracked)
def sig_add(key, a, b):
    return a + b


@app.task(base=Tracked)
def sig_fail(key, message="boom"):
    raise ValueError(message)


# The signal programs' retries wait half a second: a retry that ran at once could record its task_prerun
# before the first run's task_postrun on a loaded machine (on either stack), and the order is what they test.
SIGNAL_RETRY_DELAY = 0.5


@app.task(base=Tracked, bind=True, max_retries=1, default_retry_delay=SIGNAL_RETRY_DELAY)
def sig_retry(self, key):
    if self.request.retries < 1:
        raise self.retry(exc=KeyError("again"))
    return "done"


@app.task(base=Tracked, bind=True, max_retries=1, default_retry_delay=SIGNAL_RETRY_DELAY)
def sig_retry_exhaust(self, key):
    raise self.retry(exc=KeyError("never"))


@app.task(base=Tracked)
def sig_ignore(key):
    raise exceptions().Ignore()


@app.task(base=Tracked)
def sig_kwargs(key, *, scale=1):
    return scale * 2


@app.task(base=Tracked, bind=True)
def sig_spawn(self, key):
    sig_add.delay(key, 1, 1)
    return "spawned"


@app.task
def sig_plain(key, value):
    return value


@app.task(autoretry_for=(KeyError,), max_retries=1, default_retry_delay=SIGNAL_RETRY_DELAY,
          retry_jitter=False)
def sig_autoretry(key):
    raise KeyError("auto")


# Task classes, annotations, current_task and replace (issue 16) live in their own module; its tasks are
# this app's (the worker imports them from here) and programs reach them through this module.
_classes = importlib.import_module(f"tests.conformance.stacks.{STACK}_classes")
globals().update({_name: getattr(_classes, _name) for _name in _classes.__all__})

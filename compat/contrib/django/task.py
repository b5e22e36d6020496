"""``DjangoTask``: Celery 5.4's ``delay_on_commit``/``apply_async_on_commit``, backed by the outbox.

Under Django (``DJANGO_SETTINGS_MODULE`` set) this is the app's default task class, as Celery's Django
fixup makes ``celery.contrib.django.task.DjangoTask`` the default. Celery sends in an ``on_commit``
callback, so a broker outage at commit loses the event; here the call is written to the outbox in the
same transaction (see ``outbox.py``) and sent after commit, by a relay if the broker is down then.

The call is checked and encoded when it is made: a call that cannot bind raises ``TypeError`` and an
argument JSON cannot carry raises ``EncodeError`` at the call site, and nothing is written.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction

from compat import request as requests
from compat import serialization
from compat.canvas import Signature
from compat.exceptions import EncodeError
from compat.task import Task

from . import outbox

KIND = "compat.task"
#: The header that carries ``{"entry": <outbox entry id>, "send": <token of this send>}``.
HEADER = "compat_outbox"


class DjangoTask(Task):
    """A task with Celery's ``*_on_commit`` calls (``celery.contrib.django.task.DjangoTask``)."""

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``delay(*args, **kwargs)`` once the current transaction commits; returns None, as in Celery."""
        enqueue_on_commit(self, args, kwargs)

    def apply_async_on_commit(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: Any = None,
        **options: Any,
    ) -> None:
        """``apply_async(...)`` once the current transaction commits; pass ``task_id`` to know the id."""
        enqueue_on_commit(self, args, kwargs, task_id=task_id, link=link, link_error=link_error, **options)


def enqueue_on_commit(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
    """Write ``task.apply_async(args, kwargs, **options)`` to the outbox (or, eager or outbox off, run
    Celery's plain ``on_commit(apply_async)``)."""
    app = task.app
    if app.conf.task_always_eager or not app.conf.get("outbox_enabled", True):
        transaction.on_commit(partial(task.apply_async, args, kwargs, **options))
        return
    outbox.add(KIND, stored_call(task, args, kwargs, options))


def stored_call(task: Any, args: Any, kwargs: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The call as JSON-ready data: relative times made absolute now, the running task's ids captured."""
    if args is not None and not isinstance(args, (list, tuple)):
        raise TypeError("task args must be a list or tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("task keyword arguments must be a mapping")
    if task.soft_time_limit and task.time_limit and task.soft_time_limit > task.time_limit:
        raise ValueError("soft_time_limit must be less than or equal to time_limit")
    task.check_arguments(args, kwargs)
    options = {key: value for key, value in options.items() if value is not None}
    countdown = options.pop("countdown", None)
    if countdown is not None:  # counted from the call (Celery counts from commit: the same instant here)
        options["eta"] = datetime.now(UTC) + timedelta(seconds=float(countdown))
    expires = options.get("expires")
    if isinstance(expires, timedelta):
        expires = expires.total_seconds()
    if isinstance(expires, (int, float)):
        options["expires"] = datetime.now(UTC) + timedelta(seconds=max(0.0, float(expires)))
    for key in ("link", "link_error"):  # signatures (or tasks) as their dicts, as the message carries them
        if key in options:
            items = options[key] if isinstance(options[key], (list, tuple)) else [options[key]]
            options[key] = [dict(Signature.from_any(item)) for item in items]
    running = requests.current()
    if running is not None and not running[1].called_directly:
        options.setdefault("parent_id", running[1].id)
        options.setdefault("root_id", running[1].root_id or running[1].id)
    call = {
        "task": task.name,
        "task_id": options.pop("task_id", None) or str(uuid.uuid4()),
        "args": list(args or ()),
        "kwargs": dict(kwargs or {}),
        "options": options,
    }
    try:
        serialization.dumps(call)
    except EncodeError as exc:
        named = serialization.describe_encode_error(task.name, args, kwargs)
        raise (named or EncodeError(f"{task.name}: the call's options cannot be sent: {exc}")) from exc
    return call


def send_stored_call(entry_id: str, call: dict[str, Any]) -> None:
    """Send a stored call by name, marked with the entry and a fresh send token (the worker's dedupe key)."""
    from compat.app import get_current_app

    options = dict(call["options"])
    headers = dict(options.pop("headers", None) or {})
    headers[HEADER] = {"entry": entry_id, "send": uuid.uuid4().hex}
    get_current_app().send_task(
        call["task"],
        call["args"],
        call["kwargs"],
        task_id=call["task_id"],
        headers=headers,
        add_to_parent=False,
        **options,
    )


outbox.register(KIND, send_stored_call, keep=True)

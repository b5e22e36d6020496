"""Building the Dramatiq message for one Celery call, whatever the broker.

Celery's argument rules (``args`` a list or tuple, ``kwargs`` a mapping), routing (explicit queue, the
task's own ``queue``, ``task_routes``, the default queue), priority (kept as a plain number: what it means
for delivery is the broker's business), the parent and root ids of a call made inside a running task,
``countdown``/``eta`` as a delay, ``expires`` as an absolute time, and ``link``/``link_error`` as signature
dicts. Also the message of a retry (same id, same canvas options, ``retries`` bumped).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dramatiq.message import Message

from . import request as requests
from .check.runtime import check_options
from .utils.ids import uuid4_str

#: Message options that map one to one from a keyword of ``build_message`` (when not None).
_LINEAGE = ("root_id", "parent_id", "group_id", "group_index", "chord", "chain", "headers", "retries")


def build_message(
    app: Any,
    name: str,
    args: Any = None,
    kwargs: Any = None,
    *,
    countdown: Any = None,
    eta: Any = None,
    task_id: str | None = None,
    expires: Any = None,
    link: Any = None,
    link_error: Any = None,
    task: Any = None,
    queue: Any = None,
    priority: int | None = None,
    retries: int = 0,
    ignore_result: bool | None = None,
    headers: dict | None = None,
    root_id: str | None = None,
    parent_id: str | None = None,
    group_id: str | None = None,
    group_index: int | None = None,
    chord: Any = None,
    chain: Any = None,
    time_limit: float | None = None,
    soft_time_limit: float | None = None,
    chord_send: str | None = None,
    **extra: Any,
) -> tuple[Message, int | None]:
    """The message (and its delay in ms, or None) for calling task ``name``; checks Celery's argument rules.

    Parameters:
      app: the compat app (routes, defaults).
      name: the task name, registered here or not (``send_task``).
      task: the registered task, when there is one: its ``queue``, ``priority``, ``ignore_result`` and
        ``expires`` apply.
      countdown, eta: when the task may run (seconds from now, or a datetime / ISO string).
      expires: when it must not run any more (seconds, timedelta, datetime or ISO string).
      link, link_error: signatures (or lists of them) called on success / failure.
      root_id, parent_id, group_id, group_index, chord, chain, headers, retries: canvas and lineage
        options carried in the message (parent and root default to the running task's).
      chord_send: the token of a chord body's send (``CanvasContinuation`` runs one send of a body).
      **extra: further ``apply_async`` options, passed to router functions.
    """
    if args is not None and not isinstance(args, (list, tuple)):
        raise TypeError("task args must be a list or tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("task keyword arguments must be a mapping")
    if extra:  # options compat does not use: one warning per name and process (or an error)
        check_options(app, "call-option", extra, extra)
    queue, priority = _queue_and_priority(app, name, args, kwargs, extra, task, queue, priority)
    running = requests.current()
    if running is not None and not running[1].called_directly:
        parent_request = running[1]
        parent_id = parent_id or parent_request.id
        root_id = root_id or parent_request.root_id or parent_request.id
    options: dict[str, Any] = {}
    for key, value in zip(
        _LINEAGE,
        (root_id, parent_id, group_id, group_index, chord, chain or None, headers or None, retries or None),
        strict=True,
    ):
        if value is not None:
            options[key] = value
    if ignore_result is None and task is not None:
        ignore_result = task.ignore_result  # read once: it may be a setting's lookup (FromSetting)
        if ignore_result is None:
            ignore_result = app.conf.task_ignore_result
    if ignore_result:
        options["ignore_result"] = True
    if priority is not None:
        options["priority"] = int(priority)  # the broker decides what it means for delivery
    if link:
        options["link"] = signature_list(link)
    if link_error:
        options["link_error"] = signature_list(link_error)
    if time_limit:
        options["time_limit"] = time_limit * 1000
    if soft_time_limit:
        options["soft_time_limit"] = soft_time_limit
    if chord_send:
        options["chord_send"] = chord_send
    delay = _schedule(options, countdown, eta)
    expires_at = expires_from(expires if expires is not None else getattr(task, "expires", None))
    if expires_at is not None:
        options["expires"] = int(expires_at.timestamp() * 1000)
        options["expires_iso"] = expires_at.isoformat()
    message = Message(
        queue_name=queue,
        actor_name=name,
        args=tuple(args or ()),
        kwargs=dict(kwargs or {}),
        options=options,
        message_id=task_id or uuid4_str(),
    )
    return message, delay


def _queue_and_priority(
    app: Any, name: str, args: Any, kwargs: Any, extra: dict, task: Any, queue: Any, priority: Any
) -> tuple[str, Any]:
    """The queue (explicit, the task's, routed, default) and priority (explicit, routed, task's, default)."""
    route_options = app.route_for(name, args, kwargs, extra, task)
    if isinstance(queue, dict):
        queue = queue.get("name")
    queue = (
        queue
        or getattr(getattr(task, "__class__", None), "queue", None)
        or route_options.get("queue")
        or app.conf.task_default_queue
    )
    if priority is None:
        priority = route_options.get("priority")
    if priority is None and task is not None:
        priority = task.priority  # the option, a base class's, an annotation's, else task_default_priority
    if priority is None:
        priority = app.conf.task_default_priority
    return queue, priority


def retry_message(
    task: Any,
    request: Any,
    args: Any,
    kwargs: Any,
    *,
    retries: int,
    countdown: float | None,
    eta: Any,
    dropped: tuple[str, ...] = (),
    **options: Any,
) -> tuple[Message, int | None]:
    """The message re-sending a running task for a retry: same id, same canvas options, ``retries`` bumped.

    Parameters:
      task: the running task.
      request: its ``self.request`` (the delivered message's options are its base).
      dropped: options of the delivery not to carry over (the broker's ``delivery_options``).
      **options: ``retry()``'s own options (``queue``, ``priority``, ...), applied when not None.
    """
    original = dict(request._options or {})
    for key in ("eta_iso", "retries", *dropped):
        original.pop(key, None)
    original.update({key: value for key, value in options.items() if value is not None})
    original["retries"] = retries
    delay = _schedule(original, countdown, eta)
    message = Message(
        queue_name=request._message.queue_name,
        actor_name=task.name,
        args=tuple(args or ()),
        kwargs=dict(kwargs or {}),
        options=original,
        message_id=request.id,
    )
    return message, delay


def _schedule(options: dict[str, Any], countdown: Any, eta: Any) -> int | None:
    """Record the ETA in ``options["eta_iso"]``; the delay in ms from now (None when due already)."""
    when = eta_from(countdown, eta)
    if when is None:
        return None
    options["eta_iso"] = when.isoformat()
    delay_ms = int((when - datetime.now(UTC)).total_seconds() * 1000)
    return delay_ms if delay_ms > 0 else None


def signature_list(value: Any) -> list[dict]:
    """``link``/``link_error`` as a list of signature dicts."""
    from .canvas import Signature

    items = value if isinstance(value, (list, tuple)) else [value]
    return [dict(Signature.from_any(item)) for item in items]


def eta_from(countdown: Any, eta: Any) -> datetime | None:
    """The aware datetime a task may run at: ``countdown`` seconds from now, else ``eta``, else None."""
    if countdown:
        return datetime.now(UTC) + timedelta(seconds=float(countdown))
    if eta is None:
        return None
    if isinstance(eta, str):
        eta = datetime.fromisoformat(eta)
    if eta.tzinfo is None:
        eta = eta.replace(tzinfo=UTC)
    return eta


def expires_from(expires: Any) -> datetime | None:
    """The aware datetime after which a task must not run (seconds from now, timedelta, datetime, ISO)."""
    if expires is None:
        return None
    if isinstance(expires, datetime):
        return expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    if isinstance(expires, timedelta):
        expires = expires.total_seconds()
    if isinstance(expires, str):
        return expires_from(datetime.fromisoformat(expires))
    return datetime.now(UTC) + timedelta(seconds=max(0.0, float(expires)))

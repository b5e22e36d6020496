"""What a message read off a queue must look like before a worker thread may touch it.

Anything can be written into a queue: a buggy producer, an old deployment, an attacker with broker
access. Dramatiq's worker trusts what it decodes: a ``queue_name`` other than the queue the message sits
on makes its worker thread die in a ``finally:`` (the consumer lookup raises ``KeyError``), ``kwargs``
that are not a mapping or an ``options`` value of the wrong type crash code that formats or reads them.
A thread that dies that way takes its message with it and the process keeps heartbeating, so nothing
ever recovers either. Consumers therefore check every decoded message here first; a message with a
problem is dead-lettered with the reason and acknowledged, and the worker goes on.

The checks are broker-agnostic: the consumer of any broker calls :func:`problem`, and :func:`rejected`
once it discarded a message, which sends Celery's ``task_rejected``: ``exc=None`` for a body that is not
a message at all (Celery's unknown message), ``exc=InvalidTaskError(reason)`` for a malformed one (its
invalid task).
"""

from __future__ import annotations

import math
from typing import Any

#: Longest task id, task name or queue name accepted off the wire (ids become Redis key names).
MAX_NAME_LENGTH = 255

_NUMBER = (int, float)


class RejectedMessage:
    """What ``task_rejected`` receivers get as ``message`` (Celery passes kombu's): the raw body, the
    decoded message (and its fields as ``payload``) when there is one, where it was found."""

    def __init__(self, body: bytes | None, queue: str, message_id: str, decoded: Any = None) -> None:
        self.body = body
        self.decoded = decoded
        self.message_id = message_id
        self.delivery_info = {"routing_key": queue, "queue": queue}
        self.content_type = "application/json"
        self.payload = decoded.asdict() if decoded is not None else None
        self.headers = (
            {"task": decoded.actor_name, "id": decoded.message_id, **(decoded.options.get("headers") or {})}
            if decoded is not None
            else {}
        )

    def __repr__(self) -> str:
        return f"<RejectedMessage {self.message_id} on {self.delivery_info['queue']!r}>"


def rejected(
    consumer: Any, queue: str, message_id: str, body: bytes | None, reason: str, decoded: Any
) -> None:
    """Send ``task_rejected`` for a message ``consumer`` discarded (a no-op when nobody listens); the sender
    is the worker process's consumer, as in Celery (the broker's consumer outside a booted worker)."""
    from . import signals
    from .exceptions import InvalidTaskError

    if not signals.task_rejected.receivers:
        return
    exc = InvalidTaskError(reason) if decoded is not None else None
    from .middleware.lifecycle import node_consumer

    sender = node_consumer(getattr(consumer, "broker", None)) or consumer
    message = RejectedMessage(body, queue, message_id, decoded)
    signals.task_rejected.send(sender=sender, message=message, exc=exc)

#: Message options the facade or Dramatiq's own middleware read, with the types they must have when
#: present (``None`` always reads as absent). Options nobody reads are left alone, and so are the
#: broker's own delivery options, which its consumer sets from where it found the message.
OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "root_id": (str,),
    "parent_id": (str,),
    "group_id": (str,),
    "group_index": (int,),
    "chord": (dict,),
    "chain": (list,),
    "headers": (dict,),
    "retries": (int,),
    "max_retries": (int,),
    "ignore_result": (bool,),
    "priority": (int,),
    "link": (list,),
    "link_error": (list,),
    "time_limit": _NUMBER,
    "soft_time_limit": _NUMBER,
    "eta": _NUMBER,
    "eta_iso": (str,),
    "expires": _NUMBER,
    "expires_iso": (str,),
    "max_age": _NUMBER,
    "on_success": (str,),
    "on_failure": (str,),
    "pipe_target": (dict,),
    "pipe_ignore": (bool,),
    "requeue_timestamp": _NUMBER,
    "traceback": (str,),
    "chord_send": (str,),
}

#: Options that only ever hold Python objects (exception classes): JSON cannot carry them, and
#: Dramatiq's worker passes ``throws`` to ``isinstance``, which raises on anything else.
FORBIDDEN_OPTIONS = ("throws",)


def _type_error(value: Any, allowed: tuple[type, ...]) -> bool:
    if value is None:
        return False
    if isinstance(value, bool) and bool not in allowed:
        return True  # JSON true/false is not a count or a time
    if not isinstance(value, allowed):
        return True
    return isinstance(value, float) and not math.isfinite(value)


def _name_problem(field: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{field} must be a non-empty string, not {type(value).__name__}"
    if len(value) > MAX_NAME_LENGTH:
        return f"{field} is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
    return None


def problem(message: Any, queue_name: str, actors: Any = None) -> str | None:
    """Why ``message`` (a decoded Dramatiq message) cannot be run from ``queue_name``, or None if it can.

    Parameters:
      message: the message as decoded from the queue.
      queue_name: the queue the consumer read it from (``q`` or its delay queue ``q.DQ``).
      actors: the broker's actors by name, to check the callbacks of Dramatiq's own middleware name one.
    """
    for field in ("actor_name", "message_id", "queue_name"):
        reason = _name_problem(field, getattr(message, field))
        if reason:
            return reason
    if message.queue_name != queue_name:
        return f"queue_name {message.queue_name!r} does not match the queue it was read from ({queue_name!r})"
    if not isinstance(message.args, (list, tuple)):
        return f"args must be a list, not {type(message.args).__name__}"
    if not isinstance(message.kwargs, dict):
        return f"kwargs must be a mapping, not {type(message.kwargs).__name__}"
    if not isinstance(message.options, dict):
        return f"options must be a mapping, not {type(message.options).__name__}"
    timestamp = message.message_timestamp
    if _type_error(timestamp, _NUMBER) or timestamp is None:
        return f"message_timestamp must be a number, not {type(timestamp).__name__}"
    for name in FORBIDDEN_OPTIONS:
        if name in message.options:
            return f"option {name!r} cannot travel in a message"
    for name, value in message.options.items():  # the few a message has, not every known option
        allowed = OPTION_TYPES.get(name)
        if allowed is not None and _type_error(value, allowed):
            expected = " or ".join(kind.__name__ for kind in allowed)
            return f"option {name!r} must be {expected}, not {type(value).__name__} ({_short(value)})"
    if message.options.get("retries") is not None and message.options["retries"] < 0:
        return "option 'retries' must not be negative"
    reason = _canvas_problem(message.options) or _dramatiq_callbacks_problem(message.options, actors)
    if reason:
        return reason
    delayed = queue_name.endswith(".DQ")
    if delayed and message.options.get("eta") is None:
        return "a message on a delay queue needs an 'eta'"
    if not delayed and message.options.get("eta") is not None:
        # Only delay queues hold messages with an eta; elsewhere the worker would keep it in memory
        # until then, holding a prefetch slot.
        return "option 'eta' belongs on a delay queue only"
    return None


#: Nesting of signatures (a chain in a link in a chord body ...) accepted off the wire.
MAX_CANVAS_DEPTH = 32
_CANVAS_KINDS = {"chain": ("tasks",), "group": ("tasks",), "chord": ("header",)}


def _signature_problem(value: Any, where: str, depth: int = 0) -> str | None:
    """Why ``value`` is not a signature as the canvas middleware rebuilds one (``Signature.from_dict``)."""
    if depth > MAX_CANVAS_DEPTH:
        return f"{where} nests signatures deeper than {MAX_CANVAS_DEPTH}"
    if not isinstance(value, dict):
        return f"{where} must be a signature (a mapping), not {type(value).__name__}"
    for field, kind in (("args", (list, tuple)), ("kwargs", dict), ("options", dict)):
        if value.get(field) is not None and not isinstance(value[field], kind):
            return f"{where}'s {field} must be a {'list' if field == 'args' else 'mapping'}"
    kind = value.get("subtask_type")
    if not kind:
        return _name_problem(f"{where}'s task", value.get("task"))
    if kind not in _CANVAS_KINDS:
        return f"{where} has an unknown subtask_type {_short(kind)}"
    kwargs = value.get("kwargs") or {}
    if kind == "chord":
        body = kwargs.get("body")
        return _signature_problem(kwargs.get("header"), f"{where}'s header", depth + 1) or (
            _signature_problem(body, f"{where}'s body", depth + 1) if body else None
        )
    tasks = kwargs.get("tasks")
    if not isinstance(tasks, list):
        return f"{where}'s tasks must be a list"
    for task in tasks:
        reason = _signature_problem(task, f"{where}'s task", depth + 1)
        if reason:
            return reason
    return None


def _canvas_problem(options: dict) -> str | None:
    """Why the links, chain or chord a message carries cannot be continued."""
    for name in ("link", "link_error", "chain"):
        for item in options.get(name) or ():
            reason = _signature_problem(item, f"option {name!r}")
            if reason:
                return reason
    chord = options.get("chord")
    if chord is None:
        return None
    reason = _name_problem("option 'chord' id", chord.get("id"))
    if reason:
        return reason
    size, index = chord.get("size"), chord.get("index")
    if _type_error(size, (int,)) or size is None or size < 1:
        return "option 'chord' needs a positive size"
    if index is not None and (_type_error(index, (int,)) or not 0 <= index < size):
        return "option 'chord' index must be a number below its size"
    return _signature_problem(chord.get("body"), "option 'chord' body")


def _dramatiq_callbacks_problem(options: dict, actors: Any) -> str | None:
    """Why the callbacks of Dramatiq's Callbacks and Pipelines middleware cannot be sent."""
    names = [options.get("on_success"), options.get("on_failure")]
    target = options.get("pipe_target")
    if target is not None:
        for field, kind in (("actor_name", str), ("queue_name", str), ("args", list), ("kwargs", dict)):
            if not isinstance(target.get(field), kind):
                return f"option 'pipe_target' needs {field} ({kind.__name__})"
        if not isinstance(target.get("options", {}), dict):
            return "option 'pipe_target' options must be a mapping"
        names.append(target["actor_name"])
    for name in names:
        if name is not None and actors is not None and name not in actors:
            return f"a callback names the unknown actor {_short(name)}"
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

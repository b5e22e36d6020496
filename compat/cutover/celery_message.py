"""Read a message Celery's Redis transport holds: kombu's JSON envelope around a Celery protocol 2
(headers + ``[args, kwargs, embed]``) or protocol 1 (one dict) body.

``decode`` gives a ``Carried`` message (everything compat needs to send the same task again) or an
``Uncarriable`` one with the reason (a pickle or other non-JSON body, a chord member, an envelope that is
not a Celery task message). Nothing is ever unpickled.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from .. import serialization
from ..exceptions import DecodeError

#: Protocol 2 headers that compat maps to its own options (the rest travel as custom headers).
KNOWN_HEADERS = {
    "lang",
    "task",
    "id",
    "shadow",
    "eta",
    "expires",
    "group",
    "group_index",
    "retries",
    "timelimit",
    "root_id",
    "parent_id",
    "argsrepr",
    "kwargsrepr",
    "origin",
    "ignore_result",
    "replaced_task_nesting",
    "stamped_headers",
    "stamps",
}
JSON_TYPES = {"application/json"}


@dataclass
class Carried:
    """A Celery task message as compat will send it again."""

    task_id: str
    name: str
    queue: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # send_task options: eta, priority, retries, ...


@dataclass
class Uncarriable:
    """A message compat cannot send as it is, and why; ``raw`` is kept for the dead-letter record."""

    reason: str
    raw: str
    queue: str | None = None
    task_id: str | None = None
    name: str | None = None
    carried: Carried | None = None  # a readable message refused for another reason (an unknown task)


def decode(payload: str | bytes, queue: str) -> Carried | Uncarriable:
    """The message kombu stored as ``payload`` in ``queue``."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    try:
        envelope = json.loads(text)
        headers = envelope.get("headers") or {}
        properties = envelope.get("properties") or {}
    except (ValueError, AttributeError, RecursionError) as exc:
        return Uncarriable(f"not a kombu message: {type(exc).__name__}: {exc}", text, queue)
    name, task_id = headers.get("task"), headers.get("id")
    content_type = envelope.get("content-type")
    if content_type not in JSON_TYPES:
        what = "pickle" if content_type == "application/x-python-serialize" else repr(content_type)
        return Uncarriable(
            f"{what} body: compat carries JSON only, so its arguments were not read",
            text,
            queue,
            task_id,
            name,
        )
    try:
        body = _body(envelope.get("body"), properties.get("body_encoding"))
    except (DecodeError, ValueError, binascii.Error, RecursionError) as exc:
        return Uncarriable(f"undecodable body: {exc}", text, queue, task_id, name)
    if name:
        return _protocol2(headers, properties, body, queue, text)
    if isinstance(body, dict) and body.get("task"):
        return _protocol1(body, properties, queue, text)
    return Uncarriable("not a Celery task message (no task name)", text, queue, task_id)


def _body(body: Any, encoding: str | None) -> Any:
    if not isinstance(body, str):
        raise ValueError("the body is not text")
    raw = base64.b64decode(body, validate=True) if encoding == "base64" else body.encode("utf-8")
    return serialization.loads(raw)


def _protocol2(headers: dict, properties: dict, body: Any, queue: str, text: str) -> Carried | Uncarriable:
    name, task_id = headers["task"], headers.get("id")
    if not (
        isinstance(body, list)
        and len(body) == 3
        and isinstance(body[0], list)
        and isinstance(body[1], dict)
        and isinstance(body[2], (dict, type(None)))
    ):
        return Uncarriable(
            "malformed protocol 2 body (not [args, kwargs, embed])", text, queue, task_id, name
        )
    if not isinstance(task_id, str) or not task_id:
        return Uncarriable("no task id", text, queue, None, name)
    args, kwargs, embed = body[0], body[1], body[2] or {}
    if embed.get("chord"):
        return Uncarriable(
            "a member of a Celery chord: the chord's counter lives in Celery's result backend",
            text,
            queue,
            task_id,
            name,
        )
    options: dict[str, Any] = {}
    hard, soft = (list(headers.get("timelimit") or []) + [None, None])[:2]
    for key, value in (
        ("eta", headers.get("eta")),
        ("expires", headers.get("expires")),
        ("retries", headers.get("retries")),
        ("root_id", headers.get("root_id")),
        ("parent_id", headers.get("parent_id")),
        ("group_id", headers.get("group")),
        ("group_index", headers.get("group_index")),
        ("time_limit", hard),
        ("soft_time_limit", soft),
        ("ignore_result", headers.get("ignore_result") or None),
        ("priority", properties.get("priority")),
        ("link", embed.get("callbacks")),
        ("link_error", embed.get("errbacks")),
        # Celery pops the next step from the end of its chain; compat's runs front to back.
        ("chain", list(reversed(embed["chain"])) if embed.get("chain") else None),
    ):
        if value is not None:
            options[key] = value
    custom = {key: value for key, value in headers.items() if key not in KNOWN_HEADERS}
    if custom:
        options["headers"] = custom
    return Carried(task_id, name, queue, args, kwargs, options)


def _protocol1(body: dict, properties: dict, queue: str, text: str) -> Carried | Uncarriable:
    task_id, name = body.get("id"), body["task"]
    args, kwargs = body.get("args") or [], body.get("kwargs") or {}
    if not isinstance(task_id, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
        return Uncarriable(
            "malformed protocol 1 body", text, queue, task_id if isinstance(task_id, str) else None, name
        )
    if body.get("chord"):
        return Uncarriable(
            "a member of a Celery chord: the chord's counter lives in Celery's result backend",
            text,
            queue,
            task_id,
            name,
        )
    options: dict[str, Any] = {}
    hard, soft = (list(body.get("timelimit") or []) + [None, None])[:2]
    for key, value in (
        ("eta", body.get("eta")),
        ("expires", body.get("expires")),
        ("retries", body.get("retries")),
        ("group_id", body.get("taskset")),
        ("time_limit", hard),
        ("soft_time_limit", soft),
        ("priority", properties.get("priority")),
        ("link", body.get("callbacks")),
        ("link_error", body.get("errbacks")),
    ):
        if value is not None:
            options[key] = value
    return Carried(task_id, name, queue, args, kwargs, options)

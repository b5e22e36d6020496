"""``before_task_publish`` and ``after_task_publish`` around every send (a call, a canvas step, a retry).

They fire in ``Celery.enqueue``, the one path compat's sends take, so a broker moving a delayed message
to its queue, or putting a rejected one back, publishes nothing, as in Celery. Receivers see Celery's
protocol-2 ``headers`` and ``body`` built from the message. Changing ``headers`` in a receiver changes
nothing that is sent (docs/compat.md, Signals). The deprecated ``task_sent`` follows ``after_task_publish``
when it has receivers, with Celery 5.7's arguments (it still sends it).
"""

from __future__ import annotations

from typing import Any

from . import signals


def enqueue_with_signals(app: Any, items: list) -> list:
    """``app.enqueue_now(items)`` with each message's publish signals before and after."""
    views = [protocol2(message) for message, _ in items]
    if signals.before_task_publish.receivers:
        for (message, _), (headers, body, routing_key) in zip(items, views, strict=True):
            signals.before_task_publish.send(
                sender=message.actor_name, body=body, exchange="", routing_key=routing_key, declare=[],
                headers=headers, properties={"correlation_id": message.message_id}, retry_policy=None,
            )
    sent = app.enqueue_now(items)
    if signals.after_task_publish.receivers:
        for (message, _), (headers, body, routing_key) in zip(items, views, strict=True):
            signals.after_task_publish.send(
                sender=message.actor_name, body=body, headers=headers, exchange="", routing_key=routing_key
            )
    if signals.task_sent.receivers:
        for (message, _), (headers, body, _) in zip(items, views, strict=True):
            signals.task_sent.send(
                sender=message.actor_name, task_id=headers["id"], task=message.actor_name, args=body[0],
                kwargs=body[1], eta=headers["eta"], taskset=headers["group"],
            )
    return sent


def protocol2(message: Any) -> tuple[dict[str, Any], tuple, str]:
    """Celery's protocol-2 ``headers``, ``body`` and routing key for a message (what publish signals see)."""
    options = message.options
    get = options.get
    headers = {
        "lang": "py",
        "task": message.actor_name,
        "id": message.message_id,
        "shadow": None,
        "eta": get("eta_iso"),
        "expires": get("expires_iso"),
        "group": get("group_id"),
        "group_index": get("group_index"),
        "retries": get("retries", 0),
        "timelimit": [get("time_limit"), get("soft_time_limit")],
        "root_id": get("root_id") or message.message_id,
        "parent_id": get("parent_id"),
        "argsrepr": repr(tuple(message.args)),
        "kwargsrepr": repr(dict(message.kwargs)),
        "origin": None,
        "ignore_result": get("ignore_result", False),
        **(get("headers") or {}),
    }
    embed = {
        "callbacks": get("link"),
        "errbacks": get("link_error"),
        "chain": get("chain"),
        "chord": get("chord"),
    }
    body = (list(message.args), dict(message.kwargs), embed)
    return headers, body, message.queue_name

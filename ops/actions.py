"""The dashboard's actions: revoke (and terminate) a task, retry a failed one; enable, disable, run schedules.

Each is a staff-only POST through ``ops.api.endpoint`` (Django's CSRF check), must say
``{"confirm": true}`` (the page asks first; a script must mean it too), and is logged with who did it
(``ops.audit``). Bad input is a 4xx and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

from compat import monitoring
from compat.app import get_current_app
from compat.contrib.django.deadletters import requeue_many
from compat.deadletters import store_for

from . import audit
from .api import ApiError, endpoint, json_object
from .schedule import app_schedule, database_row


def confirmed(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON body, which must carry ``"confirm": true``."""
    body = json_object(request)
    if body.get("confirm") is not True:
        raise ApiError(400, 'confirm the action: send {"confirm": true}')
    return body


@endpoint("POST")
def revoke(request: HttpRequest, task_id: str) -> dict:
    """``POST {"confirm": true, "terminate": false}``: no worker starts it; terminate stops it running."""
    body = confirmed(request)
    terminate = body.get("terminate", False)
    if not isinstance(terminate, bool):
        raise ApiError(400, "terminate must be true or false")
    app = get_current_app()
    replies = app.control.revoke(task_id, terminate=terminate, reply=True, timeout=1.0)
    outcome = {"revoked": task_id, "terminate": terminate, "replies": replies or []}
    audit.record(request, app, "revoke and terminate" if terminate else "revoke", task_id, outcome)
    return outcome


@endpoint("POST")
def retry(request: HttpRequest, task_id: str) -> dict:
    """``POST {"confirm": true}``: run a failed task again.

    A dead letter is requeued (same id, a fresh retry budget); otherwise the task is sent again with
    the arguments its result record keeps (``result_extended``), under a new id.
    """
    confirmed(request)
    app = get_current_app()
    found = monitoring.task_detail(app, task_id)
    if found is None:
        raise ApiError(404, f"no task with id {task_id}")
    if found.get("state") != "FAILURE":
        raise ApiError(
            409, f"task {task_id} is {found.get('state')}, not FAILURE: only a failed task is retried"
        )
    store = store_for(app)
    if store is not None and store.get(task_id) is not None:
        done, failed = requeue_many(store, [task_id], app)
        if failed:
            raise ApiError(422, f"dead letter {task_id} {failed[0]['error']}")
        outcome = {"requeued": done, "id": task_id}
    else:
        if found.get("args") is None or not found.get("task"):
            raise ApiError(
                422, f"task {task_id}'s arguments are not stored (no dead letter, and result_extended is off)"
            )
        queue = (found.get("queue") or "").removesuffix(".DQ")
        sent = app.send_task(
            found["task"], args=found["args"], kwargs=found.get("kwargs") or {}, queue=queue or None
        )
        outcome = {"sent": sent.id, "id": sent.id, "retry_of": task_id}
    audit.record(request, app, "retry", task_id, outcome)
    return outcome


def _entry(app: Any, name: str) -> Any:
    for entry in app_schedule(app):
        if entry.name == name:
            return entry
    return None


@endpoint("POST")
def schedule_action(request: HttpRequest, name: str, action: str) -> dict:
    """``POST {"confirm": true}`` to ``schedules/<name>/enable|disable|run``.

    Enabling and disabling change a database row (its ``enabled``, as the admin does); an entry from
    settings or an actor is changed in code, so those answer 409. Running now sends the entry's task
    with its arguments and options once, outside its schedule (its last run is not moved).
    """
    confirmed(request)
    if action not in ("enable", "disable", "run"):
        raise ApiError(404, f"no schedule action {action!r}: enable, disable or run")
    app = get_current_app()
    row = database_row(name)
    entry = None if row is not None else _entry(app, name)
    if row is None and entry is None:
        raise ApiError(404, f"no schedule entry named {name!r}")
    if action == "run":
        if row is not None:
            try:
                args, kwargs = json.loads(row.args or "[]"), json.loads(row.kwargs or "{}")
            except ValueError:
                raise ApiError(422, f"schedule {name!r}: its args or kwargs are not valid JSON") from None
            sent = app.send_task(row.task, args=args, kwargs=kwargs, queue=row.queue or None)
        else:
            sent = app.send_task(
                entry.task, args=list(entry.args), kwargs=dict(entry.kwargs), **entry.options
            )
        outcome: dict[str, Any] = {"sent": sent.id, "task": row.task if row is not None else entry.task}
    else:
        if row is None:
            raise ApiError(
                409,
                f"entry {name!r} comes from {entry.source}: enable or disable it there, not here",
            )
        row.enabled = action == "enable"
        row.save(update_fields=["enabled"])  # its signal bumps PeriodicTasks: the daemon picks it up
        outcome = {"name": name, "enabled": row.enabled}
    audit.record(request, app, f"schedule {action}", name, outcome)
    return outcome


@endpoint("GET")
def api_audit(request: HttpRequest) -> list:
    """``GET``: the newest dashboard actions, newest first (who, what, when, outcome)."""
    return audit.recent(get_current_app())

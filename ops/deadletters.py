"""Staff-only JSON API over the dead-letter store, under ``/ops/api/deadletters/`` (``ops.urls``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from compat.app import get_current_app
from compat.contrib.django.deadletters import requeue_many
from compat.deadletters import store_for

from .api import ApiError, endpoint, json_object
from .previews import trimmed, wants_full


def _store():
    store = store_for(get_current_app())
    if store is None:
        raise Http404("no Redis keeps dead letters here: neither result_backend nor broker_url is Redis")
    return store


def public_record(record: dict) -> dict:
    """A dead-letter record without its raw message (the API and the page never show it)."""
    return {key: value for key, value in record.items() if key != "message"}


def _selector(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value or None


@endpoint("GET")
def dead_letter_list(request: HttpRequest) -> dict:
    """``GET ?task=&queue=&offset=&limit=``: a page of dead letters, newest first."""
    try:
        offset = max(0, int(request.GET.get("offset", 0)))
        limit = min(500, max(1, int(request.GET.get("limit", 50))))
    except ValueError:
        raise ApiError(400, "offset and limit must be integers") from None
    store = _store()
    records = store.list(request.GET.get("task"), request.GET.get("queue"), offset, limit)
    results = [trimmed(public_record(record)) for record in records]
    return {"count": store.count(), "offset": offset, "limit": limit, "results": results}


@endpoint("GET")
def dead_letter_detail(request: HttpRequest, task_id: str) -> dict:
    """``GET``: one dead letter, its payload cut to a preview unless ``?full=1``."""
    record = _store().get(task_id)
    if record is None:
        raise ApiError(404, f"no dead letter with id {task_id}")
    return public_record(record) if wants_full(request) else trimmed(public_record(record))


@endpoint("POST")
def dead_letter_requeue(request: HttpRequest, task_id: str) -> dict:
    """``POST``: send one dead letter again; 422 when its message cannot be rebuilt (it is kept)."""
    store = _store()
    if store.get(task_id) is None:
        raise ApiError(404, f"no dead letter with id {task_id}")
    done, failed = requeue_many(store, [task_id], get_current_app())
    if failed:
        raise ApiError(422, f"dead letter {task_id} {failed[0]['error']}")
    return {"requeued": done}


@endpoint("POST")
def dead_letter_bulk(request: HttpRequest) -> dict:
    """``POST {"action": "requeue"|"purge", "task": ..., "queue": ..., "all": true}``.

    Requeue answers ``{"requeued": [ids], "failed": [{"id", "error"}]}``: what could be sent again is,
    the rest stays in the store.
    """
    body = json_object(request)
    action = body.get("action")
    task, queue, everything = _selector(body, "task"), _selector(body, "queue"), body.get("all", False)
    if not isinstance(everything, bool):
        raise ApiError(400, "all must be true or false")
    if action not in ("requeue", "purge"):
        raise ApiError(400, "action must be 'requeue' or 'purge'")
    if not (everything or task or queue):
        raise ApiError(400, "select with task/queue, or pass all=true")
    if everything:
        task = queue = None
    store = _store()
    if action == "purge":
        return {"purged": store.purge(task, queue)}
    ids = [record["id"] for record in store.iter(task, queue)]
    done, failed = requeue_many(store, ids, get_current_app())
    return {"requeued": done, "failed": failed}


@endpoint("POST")
def dead_letter_purge(request: HttpRequest, task_id: str) -> dict:
    """``POST``: delete one dead letter."""
    store = _store()
    if store.get(task_id) is None:
        raise ApiError(404, f"no dead letter with id {task_id}")
    store.remove(task_id)
    return {"purged": [task_id]}

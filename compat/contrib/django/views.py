"""Staff-only JSON API over the dead-letter store (``compat.contrib.django.urls``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from compat.app import get_current_app
from compat.deadletters import store_for


def staff_member_required(view: Callable) -> Callable:
    """JSON errors instead of a login page: 401 without a session, 403 for users who are not staff."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        if not request.user.is_staff:
            return JsonResponse({"error": "staff only"}, status=403)
        return view(request, *args, **kwargs)

    return guarded


def _store():
    store = store_for(get_current_app())
    if store is None:
        raise Http404("no Redis keeps dead letters here: neither result_backend nor broker_url is Redis")
    return store


def _public(record: dict) -> dict:
    return {key: value for key, value in record.items() if key != "message"}


@staff_member_required
@require_GET
def dead_letter_list(request: HttpRequest) -> JsonResponse:
    """``GET ?task=&queue=&offset=&limit=``: a page of dead letters, newest first."""
    try:
        offset = max(0, int(request.GET.get("offset", 0)))
        limit = min(500, max(1, int(request.GET.get("limit", 50))))
    except ValueError:
        return JsonResponse({"error": "offset and limit must be integers"}, status=400)
    store = _store()
    records = store.list(request.GET.get("task"), request.GET.get("queue"), offset, limit)
    return JsonResponse(
        {
            "count": store.count(),
            "offset": offset,
            "limit": limit,
            "results": [_public(record) for record in records],
        }
    )


@staff_member_required
@require_GET
def dead_letter_detail(request: HttpRequest, task_id: str) -> JsonResponse:
    record = _store().get(task_id)
    if record is None:
        return JsonResponse({"error": f"no dead letter with id {task_id}"}, status=404)
    return JsonResponse(_public(record))


@staff_member_required
@require_POST
def dead_letter_requeue(request: HttpRequest, task_id: str) -> JsonResponse:
    store = _store()
    if store.get(task_id) is None:
        return JsonResponse({"error": f"no dead letter with id {task_id}"}, status=404)
    store.requeue(task_id, get_current_app())
    return JsonResponse({"requeued": [task_id]})


@staff_member_required
@require_POST
def dead_letter_bulk(request: HttpRequest) -> JsonResponse:
    """``POST {"action": "requeue"|"purge", "task": ..., "queue": ..., "all": true}``."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "body must be JSON"}, status=400)
    action = body.get("action")
    task, queue, everything = body.get("task"), body.get("queue"), bool(body.get("all"))
    if action not in ("requeue", "purge"):
        return JsonResponse({"error": "action must be 'requeue' or 'purge'"}, status=400)
    if not (everything or task or queue):
        return JsonResponse({"error": "select with task/queue, or pass all=true"}, status=400)
    store = _store()
    if action == "purge":
        return JsonResponse(
            {"purged": store.purge(None if everything else task, None if everything else queue)}
        )
    ids = [record["id"] for record in store.iter(None if everything else task, None if everything else queue)]
    app = get_current_app()
    for task_id in ids:
        store.requeue(task_id, app)
    return JsonResponse({"requeued": ids})

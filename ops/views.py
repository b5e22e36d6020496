"""The dashboard page and its JSON API (``/ops/``, ``/ops/api/``); access rules in ``ops.access``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from compat import monitoring as metrics
from compat.app import get_current_app
from compat.deadletters import store_for

from .access import staff_page
from .api import ApiError, endpoint
from .audit import recent as recent_actions
from .deadletters import public_record
from .previews import trimmed
from .schedule import scheduler_info
from .security import with_security_headers
from .tasks import page_of

POLL_SECONDS = 3
RECENT_LIMIT = 50
DEAD_LETTER_LIMIT = 50


def _int(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(request.GET.get(name, default))))
    except ValueError:
        return default


def dead_letters(app: Any, limit: int = DEAD_LETTER_LIMIT) -> dict[str, Any]:
    """The newest dead letters and their total count."""
    store = store_for(app)
    if store is None:
        return {"count": 0, "results": []}
    records = store.list(limit=limit)
    return {"count": store.count(), "results": [trimmed(public_record(record)) for record in records]}


def overview(request: HttpRequest) -> dict[str, Any]:
    """Everything the page shows; the recent list honours the search filters (``ops.tasks.query_from``),
    ``hide_periodic``, ``offset`` and ``limit``. Workers come from heartbeats only (inspect is
    ``api/workers``, polled more slowly)."""
    app = get_current_app()
    minutes = _int(request, "minutes", 15, 1, 60)
    recent = page_of(request, app, RECENT_LIMIT)
    return {
        "queues": metrics.queue_stats(app),
        "workers": metrics.workers(app, include_dead=True),
        "minutes": minutes,
        "tasks": metrics.task_stats(app, minutes),
        "recent": recent["results"],
        "recent_page": {key: recent[key] for key in ("offset", "limit", "more", "scanned")},
        "dead_letters": dead_letters(app),
        "scheduler": scheduler_info(app),
        "actions": recent_actions(app, 10),
    }


@with_security_headers
@staff_page
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The dashboard page, rendered with current data; its script refreshes it from ``api/overview``."""
    try:
        data, error = overview(request), None
    except LookupError as exc:
        data, error = {}, str(exc)
    except ApiError as exc:  # a bad filter in the address: the page says so
        data, error = {}, exc.message
    return render(
        request,
        "compat_ops/dashboard.html",
        {"data": data, "error": error, "poll_seconds": POLL_SECONDS, "states": STATES},
    )


STATES = ("SUCCESS", "FAILURE", "RETRY", "REVOKED", "IGNORED", "REJECTED")


@endpoint("GET")
def api_overview(request: HttpRequest) -> dict:
    """``GET ?minutes=&state=&task=&limit=``: everything the page shows."""
    return overview(request)


@endpoint("GET")
def api_queues(request: HttpRequest) -> list:
    return metrics.queue_stats(get_current_app())


@endpoint("GET")
def api_stats(request: HttpRequest) -> dict:
    """``GET ?minutes=``: throughput, mean, p50 and p95 per task."""
    minutes = _int(request, "minutes", 15, 1, 60)
    return {"minutes": minutes, "tasks": metrics.task_stats(get_current_app(), minutes)}


@endpoint("GET")
def api_tasks(request: HttpRequest) -> list:
    """``GET ?state=&task=&limit=``: recent finished tasks, newest first."""
    limit = _int(request, "limit", 100, 1, 1000)
    return metrics.recent_tasks(get_current_app(), request.GET.get("state"), request.GET.get("task"), limit)


@endpoint("GET")
def api_scheduler(request: HttpRequest) -> dict:
    return scheduler_info(get_current_app())

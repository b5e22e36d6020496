"""``/metrics``: Prometheus text for a bearer token (``CELERY_METRICS_TOKEN``) or a staff session."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from compat.app import get_current_app

from .access import bearer_ok
from .prometheus import CONTENT_TYPE, exposition


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text: queue depths, tasks by state, runtimes, retries, dead letters, workers, schedule."""
    if not bearer_ok(request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not user.is_staff:
            return HttpResponse("staff only\n", status=403, content_type="text/plain")
    try:
        body = exposition(get_current_app())
    except LookupError as exc:
        return HttpResponse(f"{exc}\n", status=404, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE)

"""JSON errors for the API: DRF's handler, plus JSON 400/403/404/500 pages for what DRF never sees."""

from __future__ import annotations

import redis
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from compat.exceptions import OperationalError

UNAVAILABLE = {"detail": "The task queue is unavailable right now; try again shortly."}


def exception_handler(exc, context):
    """DRF's handler; a bare ``Http404`` gets ``{"detail": "Not found."}`` like DRF's own; a broker outage
    (``.delay()`` cannot reach Redis) is 503 with ``Retry-After``, not a 500 with a traceback."""
    if isinstance(exc, (OperationalError, redis.ConnectionError, redis.TimeoutError)):
        return Response(UNAVAILABLE, status=503, headers={"Retry-After": "5"})
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, Http404):
        response.data = {"detail": "Not found."}
    return response


def bad_request(request: HttpRequest, exception=None):
    """400 for what Django refuses before a view runs (a suspicious request): JSON under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    from django.views.defaults import bad_request as django_bad_request

    return django_bad_request(request, exception)


def permission_denied(request: HttpRequest, exception=None):
    """403 outside DRF's views (e.g. a CSRF failure): JSON under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    from django.views.defaults import permission_denied as django_permission_denied

    return django_permission_denied(request, exception)


def not_found(request: HttpRequest, exception=None):
    """404 for URLs no view matches: JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request: HttpRequest):
    """500: JSON under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    from django.views.defaults import server_error as django_server_error

    return django_server_error(request)

"""Request-size limits at the HTTP layer: an over-limit body is refused before anything reads it.

Under WSGI a body is only what ``Content-Length`` announces (Django reads no further), so checking
the header refuses an oversized request without reading it. The JSON parser bounds its read as well
(``threads/api/parsers.py``), and Django's own ``RequestDataTooBig`` is answered the same way. Limits:
``THREADS_MAX_JSON_BYTES`` for every non-multipart body (README, configuration).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

JSON_PREFIXES = ("/api/", "/ops/api/")


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    """413, as JSON under the APIs."""
    detail = f"The request body is larger than {limit} bytes."
    if request.path.startswith(JSON_PREFIXES):
        return JsonResponse({"detail": detail}, status=413)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")


def body_limit(request: HttpRequest) -> int:
    """The largest body accepted for this request."""
    return settings.THREADS_MAX_JSON_BYTES


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0  # Django reads no body then


class RequestSizeLimitMiddleware:
    """413 for a body whose ``Content-Length`` is over the limit; also for Django's ``RequestDataTooBig``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request)
        if declared_length(request) > limit:
            return too_large(request, limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return too_large(request, body_limit(request))
        return None

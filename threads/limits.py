"""Request-size limits at the HTTP layer: an over-limit body is refused before anything reads it.

Under WSGI a body is only what ``Content-Length`` announces (Django reads no further), so checking
the header refuses an oversized request without reading it. The stream is bounded as well, for a
server that passes a body without a length: the JSON parser reads at most its limit
(``threads/api/parsers.py``) and ``FileSizeLimitUploadHandler`` stops a multipart upload as soon as a
file passes its limit, before it is stored. Django's own ``RequestDataTooBig`` is answered the same
way. Limits (README, configuration): ``THREADS_MAX_JSON_BYTES`` for a non-multipart body,
``THREADS_UPLOAD_MAX_BYTES`` for a multipart one, ``THREADS_IMAGE_MAX_BYTES`` for each file in it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse

JSON_PREFIXES = ("/api/", "/ops/api/")


class UploadTooLarge(RequestDataTooBig):
    """A file in a multipart body passed ``THREADS_IMAGE_MAX_BYTES``."""


def too_large(request: HttpRequest, detail: str) -> HttpResponse:
    """413, as JSON under the APIs."""
    if request.path.startswith(JSON_PREFIXES):
        return JsonResponse({"detail": detail}, status=413)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")


def body_limit(request: HttpRequest) -> int:
    """The largest body accepted for this request: an upload's, or a JSON document's."""
    if request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/"):
        return settings.THREADS_UPLOAD_MAX_BYTES
    return settings.THREADS_MAX_JSON_BYTES


def body_too_large(request: HttpRequest) -> HttpResponse:
    return too_large(request, f"The request body is larger than {body_limit(request)} bytes.")


class FileSizeLimitUploadHandler(FileUploadHandler):
    """First of ``FILE_UPLOAD_HANDLERS``: raises ``UploadTooLarge`` once a file passes its limit."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        limit = settings.THREADS_IMAGE_MAX_BYTES
        if start + len(raw_data) > limit:
            raise UploadTooLarge(f"The uploaded file is larger than {limit} bytes.")
        return raw_data  # on to the handler that stores it

    def file_complete(self, file_size: int) -> None:
        return None


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
        if declared_length(request) > body_limit(request):
            return body_too_large(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UploadTooLarge):
            return too_large(request, str(exception))
        if isinstance(exception, RequestDataTooBig):
            return body_too_large(request)
        return None

"""What Django's debug page may show, and to whom.

``make run`` is a development server with ``DEBUG`` on, and Django's technical 500 page shows the
settings and the request's environment (under ``runserver`` that is the process environment, with
``DATABASE_URL`` and ``CELERY_BROKER_URL``). Two guards:

- ``LocalDebugPageMiddleware``: with ``DEBUG`` on, only a client on this machine (a loopback address,
  no proxy header) gets the technical page; anyone else gets the production error page (JSON under
  /api/), and the error is logged as Django logs it.
- ``LocalOnlyExceptionReporter``: the backstop for errors raised outside a view (in a middleware):
  the technical page's text for a non-local client is the plain "Server Error (500)".
- ``SafeExceptionReporterFilter``: Django's filter, also hiding settings and environment variables
  whose name says URL or DSN (they carry passwords), for the local page and for error e-mails.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import get_resolver
from django.views import debug

logger = logging.getLogger("django.request")

PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


class SafeExceptionReporterFilter(debug.SafeExceptionReporterFilter):
    hidden_settings = re.compile(r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN", flags=re.I)


class LocalOnlyExceptionReporter(debug.ExceptionReporter):
    """Django's reporter, which renders nothing for a non-local client (error e-mails stay complete)."""

    PLAIN = "Server Error (500)"

    def _hidden(self) -> bool:
        return not self.is_email and (self.request is None or not is_local_client(self.request))

    def get_traceback_html(self) -> str:
        return f"<!doctype html><title>{self.PLAIN}</title><h1>{self.PLAIN}</h1>" if self._hidden() else (
            super().get_traceback_html()
        )

    def get_traceback_text(self) -> str:
        return self.PLAIN if self._hidden() else super().get_traceback_text()


def is_local_client(request: HttpRequest) -> bool:
    """True for a request from a loopback address that did not come through a proxy."""
    if any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


class LocalDebugPageMiddleware:
    """With ``DEBUG`` on, a non-local client gets the production 500 page, never the technical one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG or is_local_client(request) or not _is_server_error(exception):
            return None
        logger.error(
            "Internal Server Error: %s", request.path, exc_info=exception, extra={"request": request}
        )
        callback = get_resolver(getattr(request, "urlconf", None)).resolve_error_handler(500)
        return callback(request)


def _is_server_error(exception: Exception) -> bool:
    """Exceptions Django itself turns into 4xx answers (404, 403, 400) are left to it."""
    return not isinstance(exception, Http404 | PermissionDenied | BadRequest | SuspiciousOperation)

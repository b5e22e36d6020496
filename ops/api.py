"""Every ``/ops/api/`` answer is JSON, errors included: the views raise, this module answers.

``endpoint("GET")`` makes a view staff-only (401/403 as JSON), checks the method (405 with ``Allow``),
runs Django's CSRF check itself for unsafe methods (403 JSON with the reason, instead of the project's
HTML failure page), and turns what a view raises into a JSON error: ``ApiError`` (its status), ``Http404`` and
``LookupError`` (404: unknown ids, or a broker that keeps no metrics), a body over Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413), a store that cannot be reached (503), anything else (500, logged
with its traceback, never shown). A view returns a ``JsonResponse`` or plain data to serialize.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware

from .access import staff_json
from .security import with_security_headers

log = logging.getLogger("ops")


class ApiError(Exception):
    """A client error to answer as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str, **extra: Any) -> JsonResponse:
    """``{"error": message, ...extra}`` with ``status``."""
    return JsonResponse({"error": message, **extra}, status=status)


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` when empty); ``ApiError`` 400 for anything else."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ApiError(400, "body must be JSON") from None
    except RecursionError:
        raise ApiError(400, "body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, not {type(body).__name__}")
    return body


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, returning the reason instead of rendering ``CSRF_FAILURE_VIEW``."""

    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Why ``request`` fails the CSRF check, or None when it passes (safe methods always do)."""
    check = _CsrfCheck(lambda request: HttpResponse())
    check.process_request(request)
    outcome = check.process_view(request, None, (), {})
    return outcome if isinstance(outcome, str) else None


def _answer(view: Callable, request: HttpRequest, *args, **kwargs) -> HttpResponse:
    try:
        result = view(request, *args, **kwargs)
    except ApiError as exc:
        return error(exc.status, exc.message)
    except Http404 as exc:
        return error(404, str(exc) or "not found")
    except LookupError as exc:
        return error(404, str(exc.args[0]) if exc.args else "not found")
    except RequestDataTooBig:
        return error(413, "request body too large")
    except redis.RedisError as exc:
        log.warning("ops API: the store is unreachable: %s", exc)
        return error(503, "the task store is unreachable; try again")
    except Exception:
        log.exception("ops API: %s %s failed", request.method, request.path)
        return error(500, "internal error (logged on the server)")
    return result if isinstance(result, HttpResponse) else JsonResponse(result, safe=False)


def endpoint(*methods: str) -> Callable[[Callable], Callable]:
    """Staff-only JSON view answering ``methods``; every error a JSON body (see the module docstring)."""

    def decorate(view: Callable) -> Callable:
        @with_security_headers
        @staff_json
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error(405, f"method {request.method} not allowed")
                response["Allow"] = ", ".join(methods)
                return response
            if (reason := csrf_failure(request)) is not None:
                return error(403, f"CSRF check failed: {reason}")
            return _answer(view, request, *args, **kwargs)

        wrapped.csrf_exempt = True  # checked above, answering JSON
        return wrapped

    return decorate


@with_security_headers
def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Unknown paths under ``/ops/api/``: a JSON 404 for anyone (it tells nothing about what exists)."""
    return error(404, f"no such endpoint: {request.path}")

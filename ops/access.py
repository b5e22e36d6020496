"""Who may see the dashboard: staff sessions for pages and JSON, a bearer token (or staff) for ``/metrics``.

Pages send anonymous visitors to the login page (``LOGIN_URL`` when the project sets it, else the
admin's) and answer 403 to users who are not staff; the JSON views answer 401/403 as JSON instead.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseForbidden, JsonResponse
from django.urls import NoReverseMatch, reverse

from compat.app import get_current_app


def staff_json(view: Callable) -> Callable:
    """JSON errors instead of a login page: 401 without a session, 403 for users who are not staff."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "authentication required"}, status=401)
        if not request.user.is_staff:
            return JsonResponse({"error": "staff only"}, status=403)
        return view(request, *args, **kwargs)

    return guarded


def login_url() -> str:
    """``LOGIN_URL`` if the project set it, else the admin login, else Django's default."""
    if not settings.is_overridden("LOGIN_URL"):
        try:
            return reverse("admin:login")
        except NoReverseMatch:
            pass
    return str(settings.LOGIN_URL)


def staff_page(view: Callable) -> Callable:
    """Login redirect for anonymous visitors, 403 for users who are not staff."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        if not request.user.is_staff:
            return HttpResponseForbidden("staff only")
        return view(request, *args, **kwargs)

    return guarded


def bearer_ok(request: HttpRequest) -> bool:
    """True when the request carries ``Authorization: Bearer <metrics_token>`` (compared in constant time)."""
    token = get_current_app().conf.metrics_token
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), str(token).encode())

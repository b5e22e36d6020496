"""A strict Content-Security-Policy on every dashboard response: scripts and styles from this site only.

The page has no inline script, style or event handler (they are in ``compat_ops/ops.js`` and
``ops.css``), so nothing needs ``'unsafe-inline'``; it only fetches its own API, and no other site may
frame it. When ``STATIC_URL`` is on another origin (a CDN), that origin is allowed for scripts and styles.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def content_security_policy() -> str:
    """The policy text, with the static files' origin when they are served from elsewhere."""
    static = urlsplit(str(getattr(settings, "STATIC_URL", "") or ""))
    sources = "'self'" + (f" {static.scheme}://{static.netloc}" if static.scheme and static.netloc else "")
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {sources}",
            f"style-src {sources}",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def with_security_headers(view: Callable) -> Callable:
    """Add the policy (and ``X-Content-Type-Options: nosniff``) to every response of ``view``."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = content_security_policy()
        response["X-Content-Type-Options"] = "nosniff"
        return response

    return wrapped

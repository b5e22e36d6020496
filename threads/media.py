"""Serving uploaded media so that no upload can ever run as a page of this origin.

Django's ``static.serve`` guesses the type from the name, so an upload called ``cute-cat.html`` (or
``.svg``) was served as a page with the app's cookies in reach. Here the type comes from the file's
content (its header, sniffed with Pillow): an accepted raster image (JPEG, PNG, GIF, WebP) is served
inline as that type; anything else as ``application/octet-stream`` with
``Content-Disposition: attachment``. Every answer carries ``X-Content-Type-Options: nosniff`` and a
``sandbox`` CSP, so even a browser that renders it runs nothing. A web server or object store in front
of ``/media/`` must do the same.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest
from django.utils._os import safe_join
from django.utils.http import http_date

from threads.services import images as imaging

MEDIA_CSP = "default-src 'none'; img-src 'self'; sandbox"


def serve_media(request: HttpRequest, path: str) -> FileResponse:
    """The stored file at ``path`` under ``MEDIA_ROOT``, typed by its content; 404 when there is none."""
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, posixpath.normpath(path).lstrip("/")))
    except (SuspiciousFileOperation, ValueError):  # outside MEDIA_ROOT, or a NUL in the path
        raise Http404("No such file.") from None
    if not full.is_file():
        raise Http404("No such file.")
    handle = full.open("rb")
    fmt = imaging.sniff_format(handle)
    response = FileResponse(
        handle,
        content_type=imaging.MEDIA_TYPES.get(fmt or "", "application/octet-stream"),
        as_attachment=fmt is None,
        filename=full.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Last-Modified"] = http_date(full.stat().st_mtime)
    return response

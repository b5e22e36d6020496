"""``/ops/api/series``: the charts' data, the recorder's own buckets as time series (``compat.history``)."""

from __future__ import annotations

from django.http import HttpRequest

from compat.app import get_current_app
from compat.history import SPANS, series

from .api import ApiError, endpoint
from .schedule import periodic_tasks
from .tasks import _epoch


@endpoint("GET")
def api_series(request: HttpRequest) -> dict:
    """``GET ?span=1h|24h&since=<epoch>``: per point, tasks by state, runtimes, queue depths, scheduled runs.

    With ``since`` only the points from then on (the page's live update asks for the last two).
    """
    app = get_current_app()
    span = request.GET.get("span", "1h")
    if span not in SPANS:
        raise ApiError(400, f"span must be one of {', '.join(SPANS)}")
    return series(app, span, _epoch(request.GET.get("since"), "since"), periodic_tasks(app))

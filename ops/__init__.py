"""The operations dashboard for compat: a reusable Django app beside the runtime, not part of it.

Pages (``/ops/``), their JSON API and the dead-letter API (``/ops/api/``), Prometheus' ``/metrics`` and the
scheduler panel. It reads what compat's workers record (``compat.monitoring``) and what the scheduler
daemon keeps in Redis; compat itself never imports it, nor the scheduler.

Add ``"ops"`` to ``INSTALLED_APPS`` (beside ``"compat.contrib.django"``) and mount::

    path("ops/", include("ops.urls")),
    path("metrics", ops.metrics.metrics_view, name="metrics"),

See docs/ops-dashboard.md.
"""

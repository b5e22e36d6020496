"""The staff-only operations dashboard (``/ops/``), its JSON API (``/ops/api/``) and ``/metrics``.

Mount with ``path("ops/", include("compat.contrib.django.ops.urls"))`` and
``path("metrics", compat.contrib.django.ops.views.metrics)``; see docs/ops-dashboard.md.
"""

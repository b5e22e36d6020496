"""URLconf for the ops tests: the admin (to log in), the dashboard and /metrics, as a project mounts them."""

from django.contrib import admin
from django.urls import include, path

from ops.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("ops/", include("ops.urls")),
    path("metrics", metrics_view, name="metrics"),
]

"""URL routes of Threads."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from ops.metrics import metrics_view
from threads import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("api/", views.api_root, name="api-root"),
    path("api/", include("threads.api.urls")),
    path("admin/", admin.site.urls),
    # Operations dashboard (staff only), its JSON API and the dead-letter API under /ops/api/
    # (docs/ops-dashboard.md, docs/operations.md); Prometheus metrics (token or staff session).
    path("ops/", include("ops.urls")),
    path("metrics", metrics_view, name="metrics"),
    # Uploaded media (development server; put a real web server or object storage in front in production).
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]

handler404 = "threads.api.errors.not_found"
handler500 = "threads.api.errors.server_error"

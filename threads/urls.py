"""URL routes of Threads."""

from django.contrib import admin
from django.urls import include, path, re_path

from ops.metrics import metrics_view
from threads import views
from threads.media import serve_media

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
    # Uploaded media, typed by content and never as a page (threads/media.py; a server in front must do
    # the same).
    re_path(r"^media/(?P<path>.*)$", serve_media, name="media"),
]

handler400 = "threads.api.errors.bad_request"
handler403 = "threads.api.errors.permission_denied"
handler404 = "threads.api.errors.not_found"
handler500 = "threads.api.errors.server_error"

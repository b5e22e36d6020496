"""URL routes of Threads."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from threads import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("api/", views.api_root, name="api-root"),
    path("api/", include("threads.api.urls")),
    path("admin/", admin.site.urls),
    # Dead letters: staff-only JSON API of the facade (see docs/operations.md).
    path("ops/api/", include("compat.contrib.django.urls")),
    # Uploaded media (development server; put a real web server or object storage in front in production).
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]

handler404 = "threads.api.errors.not_found"
handler500 = "threads.api.errors.server_error"

"""URL routes of Threads."""

from django.contrib import admin
from django.urls import path

from threads import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("api/", views.api_root, name="api-root"),
    path("admin/", admin.site.urls),
]

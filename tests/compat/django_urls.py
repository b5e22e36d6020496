"""URLconf for the compat Django-integration tests: the dead-letter API on its own."""

from django.urls import include, path

urlpatterns = [path("ops/api/", include("compat.contrib.django.urls"))]

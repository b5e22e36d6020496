"""The app config: django-celery-results' tables, and a check that the two apps are not both installed."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class ResultsConfig(AppConfig):
    name = "compat.contrib.django.results"
    label = "compat_results"
    verbose_name = "Task results"
    default_auto_field = "django.db.models.AutoField"  # django-celery-results' tables have int ids

    def ready(self) -> None:
        checks.register(check_setup, checks.Tags.compatibility)


def check_setup(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Both apps would own the same tables."""
    from django.apps import apps

    if not apps.is_installed("django_celery_results"):
        return []
    return [
        checks.Error(
            "compat.contrib.django.results and django_celery_results are both in INSTALLED_APPS; "
            "they own the same tables",
            hint="Remove 'django_celery_results': compat.contrib.django.results uses its tables as they are.",
            id="compat_results.E001",
        )
    ]

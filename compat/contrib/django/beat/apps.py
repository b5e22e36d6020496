"""The app config: connects the change-tracking signals and checks the scheduler setting."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks

from compat.config import DATABASE_SCHEDULERS


class BeatConfig(AppConfig):
    name = "compat.contrib.django.beat"
    label = "compat_beat"
    verbose_name = "Periodic tasks"
    default_auto_field = "django.db.models.AutoField"  # django-celery-beat's tables have int ids

    def ready(self) -> None:
        from . import signals

        signals.connect()
        checks.register(check_setup, checks.Tags.compatibility)


def check_setup(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Both apps would own the same tables; rows nobody fires are a silent failure."""
    from django.apps import apps
    from django.conf import settings

    problems: list[checks.CheckMessage] = []
    if apps.is_installed("django_celery_beat"):
        problems.append(
            checks.Error(
                "compat.contrib.django.beat and django_celery_beat are both in INSTALLED_APPS; "
                "they own the same tables",
                hint="Remove 'django_celery_beat': compat.contrib.django.beat uses its tables as they are.",
                id="compat_beat.E001",
            )
        )
    chosen = getattr(settings, "CELERY_BEAT_SCHEDULER", None)
    if chosen not in DATABASE_SCHEDULERS:
        problems.append(
            checks.Warning(
                f"CELERY_BEAT_SCHEDULER is {chosen!r}: the periodic tasks in the database will not run",
                hint="Set CELERY_BEAT_SCHEDULER = 'django_celery_beat.schedulers:DatabaseScheduler'.",
                id="compat_beat.W001",
            )
        )
    return problems

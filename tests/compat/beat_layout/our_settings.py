"""The same project moved to compat.contrib.django.beat."""

from .common import *  # noqa: F403

INSTALLED_APPS = [*BASE_APPS, "compat.contrib.django.beat"]  # noqa: F405
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

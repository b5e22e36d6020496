"""A project on django-celery-beat (and Celery)."""

from .common import *  # noqa: F403

INSTALLED_APPS = [*BASE_APPS, "django_celery_beat"]  # noqa: F405

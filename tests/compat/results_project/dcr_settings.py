"""The same project on django-celery-results and real Celery (test-only), to cross-read rows."""

from .settings import *  # noqa: F403

INSTALLED_APPS = [  # noqa: F405
    *(name for name in INSTALLED_APPS if name != "compat.contrib.django.results"),  # noqa: F405
    "django_celery_results",
]

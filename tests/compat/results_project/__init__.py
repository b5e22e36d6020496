"""A small Django project on ``result_backend = "django-db"`` (and one on django-celery-results), for
``tests/compat/test_django_results*.py``: its app is created when the package is imported, as Celery's
Django guide has it (``proj/__init__.py`` imports ``proj/celery.py``)."""

from .celery import app

__all__ = ["app"]

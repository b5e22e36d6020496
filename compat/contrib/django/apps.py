"""The Django app: runs task autodiscovery once every Django app is loaded."""

from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "compat.contrib.django"
    label = "compat_django"
    verbose_name = "Celery-compatible tasks on Dramatiq"

    def ready(self) -> None:
        from compat.app import get_current_app

        get_current_app().discover_now()

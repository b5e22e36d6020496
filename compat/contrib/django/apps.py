"""The Django app: runs task autodiscovery once every Django app is loaded, and mails alerts to ADMINS."""

from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "compat.contrib.django"
    label = "compat_django"
    verbose_name = "Celery-compatible tasks on Dramatiq"

    def ready(self) -> None:
        from django.conf import settings

        from compat.app import get_current_app

        app = get_current_app()
        if app.conf.alert_mailer is None and getattr(settings, "ADMINS", None):
            app.conf.alert_mailer = "compat.contrib.django.alerts.mail_admins"
        app.discover_now()

"""The Django app: runs task autodiscovery once every Django app is loaded, mails alerts to ADMINS, and
registers the system checks (``checks.py``)."""

from django.apps import AppConfig
from django.core import checks


class CompatConfig(AppConfig):
    name = "compat.contrib.django"
    label = "compat_django"
    verbose_name = "Celery-compatible tasks on Dramatiq"

    def ready(self) -> None:
        from django.conf import settings

        from compat.app import get_current_app

        from .checks import check_stores, hold_refusal

        app = get_current_app()
        if app.conf.alert_mailer is None and getattr(settings, "ADMINS", None):
            app.conf.alert_mailer = "compat.contrib.django.alerts.mail_admins"
        checks.register(check_stores, checks.Tags.compatibility)
        hold_refusal(app)  # a refused broker is reported by check_stores, not by a traceback right here
        app.discover_now()

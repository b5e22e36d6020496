import os

import celery
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kobo.settings.prod")


class Celery(celery.Celery):
    def gen_task_name(self, name, module):
        return super().gen_task_name(name, module)


celery_app = Celery("kobo")
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.autodiscover_tasks(lambda: [n.name for n in apps.get_app_configs()])


@celery.signals.after_setup_logger.connect
def config_loggers(logger, **kwargs):
    logger.propagate = True

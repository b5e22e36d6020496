import logging
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor.settings")

app = Celery("saleor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(lambda: ["saleor.plugins.webhook"], related_name="tasks")


@setup_logging.connect
def setup_celery_logging(loglevel=None, **kwargs):
    logging.getLogger("saleor").setLevel(loglevel or logging.INFO)

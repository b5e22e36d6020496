"""The project's Celery app (paperless/celery.py's shape)."""

import logging.config
import os

from compat import Celery
from compat.signals import (
    setup_logging,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.compat.paperless_project.settings")

app = Celery("paperless")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def configure_logging(**kwargs):
    """The worker logs as the project says (its LOGGING), not as Celery would."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


worker_log = logging.getLogger("paperless.worker")


@worker_ready.connect
def on_worker_ready(sender=None, **kwargs):
    worker_log.info("lifecycle %s worker_ready %s", os.getpid(), sender.hostname)


@worker_shutting_down.connect
def on_worker_shutting_down(sig=None, how=None, exitcode=None, **kwargs):
    worker_log.info("lifecycle %s worker_shutting_down %s %s %s", os.getpid(), sig, how, exitcode)


@worker_process_shutdown.connect
def on_worker_process_shutdown(pid=None, exitcode=None, **kwargs):
    worker_log.info("lifecycle %s worker_process_shutdown %s %s", os.getpid(), pid, exitcode)


@worker_shutdown.connect
def on_worker_shutdown(sender=None, **kwargs):
    worker_log.info("lifecycle %s worker_shutdown", os.getpid())

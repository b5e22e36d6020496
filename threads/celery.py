"""The Celery-compatible application object for Threads (on Dramatiq, through `compat`)."""

from compat import Celery

app = Celery("threads")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

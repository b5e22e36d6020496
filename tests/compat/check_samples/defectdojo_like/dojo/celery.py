import logging
import os

from celery import Celery, Task
from django.conf import settings

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dojo.settings.settings")


def current_context():
    return {"user": os.environ.get("DD_USER")}


class PgHistoryTask(Task):
    """Carries the audit context of the caller into the worker."""

    def __call__(self, *args, **kwargs):
        context = kwargs.pop("_pgh_context", None)
        logger.debug("audit context %s", context)
        return super().__call__(*args, **kwargs)

    def apply_async(self, args=None, kwargs=None, **options):
        kwargs = dict(kwargs or {})
        kwargs["_pgh_context"] = current_context()
        return super().apply_async(args=args, kwargs=kwargs, **options)


app = Celery("dojo", task_cls=PgHistoryTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)


@app.task(bind=True)
def debug_task(self):
    print(f"Request: {self.request!r}")

"""The project's app: settings from Django (``CELERY_*``), tasks from ``tasks``."""

from compat import Celery

app = Celery("resultsproj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ("tests.compat.results_project.tasks",)

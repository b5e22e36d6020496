from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "tests.compat.paperless_project.documents"
    label = "documents"

    def ready(self):
        from . import signals  # noqa: F401 - connects the task tracker's receivers

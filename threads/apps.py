from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    """The Threads app: models, views, templates and management commands."""

    name = "threads"
    verbose_name = "Threads"

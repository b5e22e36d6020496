from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    """The Threads app: models, views, templates and management commands."""

    name = "threads"
    verbose_name = "Threads"

    def ready(self) -> None:
        from threads.services import counter_outbox  # noqa: F401 - registers the counter outbox kind

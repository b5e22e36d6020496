"""The project's exception (its own module, so a Celery process can rebuild it without the tasks)."""


class Broken(Exception):
    """Raised by ``results.fail``."""

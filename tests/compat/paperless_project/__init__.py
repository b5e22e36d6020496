"""A small Django project modelled on how paperless-ngx uses Celery (the patterns, not its code): a
``setup_logging`` receiver that applies the project's ``LOGGING``, ``worker_process_init`` closing
inherited database connections, and a task tracker built only on task signals. Written as for Celery,
with ``celery`` renamed ``compat`` in the import lines (``test_paperless_migration.py`` checks that
every other line is plain Celery code). Run by real ``rundramatiq`` workers in that test.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)

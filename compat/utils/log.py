"""``get_task_logger`` and ``get_logger``: Celery's loggers, under Celery's logger names.

A task logger is a child of ``celery.task`` (as in Celery, so a ``LOGGING`` config written for Celery's
names still applies after the import rename); each record it makes carries ``task_name`` and ``task_id``
of the task running in this thread (``'???'`` outside a task, as Celery's ``TaskFormatter`` shows them),
so a format such as ``'%(task_name)s[%(task_id)s]: %(message)s'`` works.
"""

from __future__ import annotations

import logging

__all__ = ["TaskFormatter", "base_logger", "get_logger", "get_task_logger", "task_logger", "worker_logger"]

RESERVED_LOGGER_NAMES = {"celery", "celery.task"}

base_logger = logging.getLogger("celery")
task_logger = logging.getLogger("celery.task")
worker_logger = logging.getLogger("celery.worker")


def get_logger(name: str) -> logging.Logger:
    """The logger ``name``, a child of ``celery`` unless it already sits under the root or is ``celery``."""
    logger = logging.getLogger(name)
    if logging.root not in (logger, logger.parent) and logger is not base_logger:
        logger.parent = base_logger
    return logger


def _add_task_fields(record: logging.LogRecord) -> bool:
    from ..request import current

    running = current()
    request = running[1] if running is not None else None
    record.task_name = (request.task or running[0].name) if request is not None else "???"
    record.task_id = (request.id or "???") if request is not None else "???"
    return True


def get_task_logger(name: str) -> logging.Logger:
    """A logger for a task module: its records carry ``task_name`` and ``task_id``."""
    if name in RESERVED_LOGGER_NAMES:
        raise RuntimeError(f"Logger name {name!r} is reserved!")
    logger = logging.getLogger(name)
    logger.parent = task_logger
    if _add_task_fields not in logger.filters:
        logger.addFilter(_add_task_fields)
    return logger


class TaskFormatter(logging.Formatter):
    """A formatter for ``%(task_name)s``/``%(task_id)s`` on any record (``'???'`` outside a task)."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "task_name"):
            _add_task_fields(record)
        return super().format(record)

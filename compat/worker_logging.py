"""A worker process's logging set-up, as Celery's ``app.log.setup`` does it, with Celery's settings.

``setup_logging`` is sent first: when a receiver is connected, the project owns logging and compat
configures nothing (no handler, no level, no stdout redirection), as in Celery. Otherwise:

- ``worker_hijack_root_logger`` (default True): the root logger's handlers (Django's ``LOGGING``, ...)
  are removed, then one handler writes to the worker's log stream (Dramatiq's pipe to its master, so
  ``--log-file`` still applies) with ``worker_log_format``/``worker_log_datefmt``; with False, a root
  logger that has a handler keeps it (Celery adds none then);
- the ``celery.task`` logger (``get_task_logger``'s parent) gets its own handler with
  ``worker_task_log_format``, so task records show ``%(task_name)s[%(task_id)s]``, and does not propagate;
- ``worker_log_color``: colours by level when true, or when unset and the stream is a terminal;
- ``after_setup_logger`` and ``after_setup_task_logger`` are sent with the loggers;
- ``worker_redirect_stdouts`` (default True): ``print`` and writes to stderr go to the
  ``celery.redirected`` logger at ``worker_redirect_stdouts_level`` (default WARNING).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from . import signals
from .utils.log import TaskFormatter, base_logger, task_logger

DEFAULT_LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
DEFAULT_TASK_LOG_FORMAT = (
    "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s"
)
COLORS = {"DEBUG": "\033[34m", "WARNING": "\033[33m", "ERROR": "\033[31m", "CRITICAL": "\033[35m"}
RESET = "\033[0m"
redirected_logger = logging.getLogger("celery.redirected")


class ColorFormatter(logging.Formatter):
    """Colours a record's text by its level when ``use_color`` (Celery's ``worker_log_color``)."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, use_color: bool = True) -> None:
        super().__init__(fmt, datefmt)
        self.use_color = use_color

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        color = COLORS.get(record.levelname) if self.use_color else None
        return f"{color}{text}{RESET}" if color else text


class TaskColorFormatter(ColorFormatter, TaskFormatter):
    """``worker_task_log_format``: ``%(task_name)s``/``%(task_id)s`` on every record, coloured or not."""


class LoggingProxy:
    """A file-like object that logs what is written to it (``worker_redirect_stdouts``), line by line.

    A write made while logging that very line (a handler writing to the redirected stream) goes to the
    original stream instead of looping.
    """

    def __init__(self, logger: logging.Logger, level: int, original: Any) -> None:
        self.logger = logger
        self.level = level
        self.original = original
        self.local = threading.local()
        self.buffer = ""

    def write(self, data: str) -> int:
        if getattr(self.local, "busy", False):
            return self.original.write(data)
        self.local.busy = True
        try:
            text = self.buffer + str(data)
            *lines, self.buffer = text.split("\n")
            for line in lines:
                if line.strip():
                    self.logger.log(self.level, line.rstrip())
        finally:
            self.local.busy = False
        return len(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.buffer.strip():
            line, self.buffer = self.buffer, ""
            self.write(line + "\n")

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.original, "encoding", "utf-8")


def level_of(value: Any, default: int = logging.WARNING) -> int:
    """A logging level from a name (``'WARNING'``) or a number."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip():
        found = logging.getLevelName(value.strip().upper())
        if isinstance(found, int):
            return found
        raise ValueError(f"unknown log level {value!r} (worker_redirect_stdouts_level)")
    return default


def supports_color(setting: Any, logfile: str | None, stream: Any) -> bool:
    """Celery's rule: colour when asked or unset, only without a log file and on a terminal."""
    if setting or setting is None:
        return logfile is None and bool(getattr(stream, "isatty", lambda: False)())
    return False


def setup(app: Any, loglevel: int, logfile: str | None, stream: Any = None) -> bool:
    """Set up this worker process's logging; True when a ``setup_logging`` receiver took it over."""
    conf = app.conf
    stream = stream if stream is not None else sys.stderr
    log_format = conf.get("worker_log_format") or DEFAULT_LOG_FORMAT
    task_format = conf.get("worker_task_log_format") or DEFAULT_TASK_LOG_FORMAT
    # the terminal the worker was started from: Dramatiq replaced sys.stderr with its pipe to the master
    colorize = supports_color(conf.get("worker_log_color"), logfile, sys.__stderr__)
    answers = signals.setup_logging.send(
        sender=None, loglevel=loglevel, logfile=logfile, format=log_format, colorize=colorize
    )
    for _, answer in answers:
        if isinstance(answer, Exception):
            raise answer  # as Celery: a broken logging set-up stops the worker, loudly
    if answers:
        return True
    root = logging.getLogger()
    hijack = conf.get("worker_hijack_root_logger")
    if hijack is None or hijack:
        for logger in (root, base_logger, task_logger, redirected_logger):
            logger.handlers = []
    if not any(not isinstance(h, logging.NullHandler) for h in root.handlers):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(ColorFormatter(log_format, conf.get("worker_log_datefmt"), colorize))
        root.addHandler(handler)
    root.setLevel(loglevel)
    signals.after_setup_logger.send(
        sender=None, logger=root, loglevel=loglevel, logfile=logfile, format=log_format, colorize=colorize
    )
    if not task_logger.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(TaskColorFormatter(task_format, conf.get("worker_task_log_datefmt"), colorize))
        task_logger.addHandler(handler)
    task_logger.setLevel(loglevel)
    task_logger.propagate = False
    signals.after_setup_task_logger.send(
        sender=None, logger=task_logger, loglevel=loglevel, logfile=logfile, format=task_format,
        colorize=colorize,
    )
    return False


def redirect_stdouts(app: Any) -> bool:
    """``worker_redirect_stdouts``: ``print`` and stderr writes go to ``celery.redirected``; True if so."""
    conf = app.conf
    wanted = conf.get("worker_redirect_stdouts")
    if wanted is not None and not wanted:
        return False
    level = level_of(conf.get("worker_redirect_stdouts_level"))
    if not isinstance(sys.stdout, LoggingProxy):
        sys.stdout = LoggingProxy(redirected_logger, level, sys.stdout)
    if not isinstance(sys.stderr, LoggingProxy):
        sys.stderr = LoggingProxy(redirected_logger, level, sys.stderr)
    return True

"""The pure parts of the worker logging set-up (``compat.worker_logging``); the set-up itself is tested on
real workers in ``test_worker_lifecycle.py`` and ``tests/conformance/test_lifecycle.py``."""

from __future__ import annotations

import io
import logging

import pytest

from compat.worker_logging import ColorFormatter, LoggingProxy, TaskColorFormatter, level_of, supports_color


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(level: int, message: str = "hello") -> logging.LogRecord:
    return logging.LogRecord("x", level, __file__, 1, message, (), None)


def test_colour_follows_celerys_rule():
    assert supports_color(None, None, Terminal()) is True
    assert supports_color(True, None, io.StringIO()) is False  # asked, but not a terminal
    assert supports_color(True, "/var/log/worker.log", Terminal()) is False  # never into a file
    assert supports_color(False, None, Terminal()) is False


def test_colour_formatter_colours_by_level_only_when_asked():
    coloured = ColorFormatter("%(levelname)s %(message)s", use_color=True)
    assert coloured.format(record(logging.ERROR)) == "\033[31mERROR hello\033[0m"
    assert coloured.format(record(logging.INFO)) == "INFO hello"
    assert ColorFormatter("%(message)s", use_color=False).format(record(logging.ERROR)) == "hello"


def test_task_formatter_outside_a_task_shows_question_marks():
    text = TaskColorFormatter("%(task_name)s[%(task_id)s] %(message)s", use_color=False).format(record(20))
    assert text == "???[???] hello"


def test_the_proxy_logs_whole_lines_at_its_level(caplog):
    logger = logging.getLogger("celery.redirected.test")
    proxy = LoggingProxy(logger, logging.ERROR, io.StringIO())
    with caplog.at_level(logging.DEBUG, logger="celery.redirected.test"):
        proxy.write("half a ")
        proxy.write("line\nand another\n\n")
        proxy.write("unfinished")
        proxy.flush()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "half a line"), (logging.ERROR, "and another"), (logging.ERROR, "unfinished")
    ]


def test_a_handler_writing_to_the_redirected_stream_does_not_loop():
    original = io.StringIO()
    logger = logging.getLogger("celery.redirected.loop")
    logger.propagate = False
    proxy = LoggingProxy(logger, logging.WARNING, original)
    logger.addHandler(logging.StreamHandler(proxy))  # the handler writes back into the proxy
    try:
        proxy.write("once\n")
    finally:
        logger.handlers.clear()
    assert original.getvalue() == "once\n"


def test_levels_by_name_or_number_and_a_clear_error_otherwise():
    assert level_of("warning") == logging.WARNING and level_of(10) == 10 and level_of(None) == logging.WARNING
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        level_of("LOUD")

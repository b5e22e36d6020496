"""``einfo``: the exception-info object Celery hands to ``on_failure``/``on_retry`` and the signals.

Celery's (billiard's) ``ExceptionInfo`` carries ``type``, ``exception``, ``tb`` and ``traceback`` (the
formatted text); handlers read ``einfo.type``, ``einfo.traceback`` and ``str(einfo)``. Here ``tb`` is the
real traceback object (handlers can walk its frames), kept only as long as the einfo is.
"""

from __future__ import annotations

import sys
import traceback as tracebacks
from types import TracebackType
from typing import Any


class ExceptionInfo:
    """An exception with its traceback, formatted once."""

    type: type[BaseException] | None = None
    exception: BaseException | None = None
    tb: TracebackType | None = None
    traceback: str = ""
    internal = False

    def __init__(self, exc_info: tuple[Any, Any, Any] | None = None, internal: bool = False) -> None:
        self.type, self.exception, self.tb = exc_info or sys.exc_info()
        self.traceback = "".join(tracebacks.format_exception(self.type, self.exception, self.tb))
        self.internal = internal

    @classmethod
    def of(cls, exc: BaseException) -> ExceptionInfo:
        """The einfo of a caught exception (its own ``__traceback__``)."""
        return cls((type(exc), exc, exc.__traceback__))

    @property
    def exc_info(self) -> tuple[Any, Any, Any]:
        return self.type, self.exception, self.tb

    def __str__(self) -> str:
        return self.traceback

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.exception!r}>"

"""Dramatiq middleware for Django workers: DB connection hygiene, and the outbox's duplicate check."""

import logging
import uuid

from dramatiq.middleware import Middleware, SkipMessage

logger = logging.getLogger("compat.outbox")


class DbConnections(Middleware):
    """Closes stale connections around every message and all of them when a worker thread stops."""

    def _close_old(self) -> None:
        from django.db import close_old_connections

        close_old_connections()

    def _close_all(self, *args, **kwargs) -> None:
        from django.db import connections

        connections.close_all()

    def before_process_message(self, broker, message):
        self._close_old()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._close_old()

    after_skip_message = after_process_message
    before_worker_thread_shutdown = _close_all
    before_consumer_thread_shutdown = _close_all
    before_worker_shutdown = _close_all


class OutboxDedupe(Middleware):
    """Runs each outbox entry's task once: a second *send* of the same entry is skipped.

    The outbox sends an entry at least once, so a relay that died after sending but before recording it
    sends it again, with another token in the ``compat_outbox`` header. The first copy to start claims
    the entry (one conditional ``UPDATE``); a copy with another token is acknowledged without running.
    The same copy delivered again (its worker died mid-task, or a retry) keeps its token and runs.
    Messages without the header cost a dictionary lookup.
    """

    def before_process_message(self, broker, message):
        from .outbox import claim_run
        from .task import HEADER

        headers = message.options.get("headers")
        mark = headers.get(HEADER) if isinstance(headers, dict) else None
        if not _valid_mark(mark):
            return
        if not claim_run(mark["entry"], mark["send"]):
            logger.warning(
                "outbox: skipped a second copy of task %s (entry %s already ran from another send)",
                message.message_id,
                mark["entry"],
            )
            raise SkipMessage()


def _valid_mark(mark) -> bool:
    if not isinstance(mark, dict):
        return False
    entry, send = mark.get("entry"), mark.get("send")
    if not (isinstance(entry, str) and isinstance(send, str) and len(send) == 32):
        return False
    try:
        uuid.UUID(entry)
        int(send, 16)
    except ValueError:
        return False
    return True

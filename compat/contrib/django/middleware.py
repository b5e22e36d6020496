"""Dramatiq middleware that keeps Django's DB connections healthy in long-lived worker threads."""

from dramatiq.middleware import Middleware


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

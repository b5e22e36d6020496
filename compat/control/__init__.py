"""Celery's remote control (``app.control``, ``app.control.inspect()``), answered by live workers.

``api.py`` is the caller's API, ``mailbox.py`` the channel on Redis, ``worker.py`` the middleware each
worker process answers with and ``commands.py`` the commands themselves.
"""

from .api import Control, Inspect, flatten_reply
from .worker import WorkerControl

__all__ = ["Control", "Inspect", "WorkerControl", "flatten_reply"]

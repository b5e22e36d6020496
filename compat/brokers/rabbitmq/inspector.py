"""Queue depths read from RabbitMQ itself, for dashboards: its management API, else passive declares.

With ``broker_management_url`` (the management plugin's address, ``http://user:password@host:15672``,
Flower's ``broker_api``) each queue's ``messages_ready`` and ``messages_unacknowledged`` come from
``/api/queues/<vhost>/<queue>``: ``ready`` is the queue's ready count, ``in_progress`` what workers hold
from it (running or prefetched), ``delayed`` everything on its delay queue (ready, or held by workers until
due). Without it, a passive ``queue.declare`` (AMQP itself) gives the ready counts only: ``in_progress``
and the delayed messages workers hold read 0. Dead letters come from the dead-letter store.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from dramatiq.common import dq_name

from ..base import QueueDepth, QueueInspector

TIMEOUT = 3.0


class RabbitmqQueueInspector(QueueInspector):
    """Depths of a ``CompatRabbitmqBroker``'s queues."""

    def __init__(self, broker: Any, management_url: str | None = None) -> None:
        self.broker = broker
        self.management_url = management_url or getattr(broker, "management_url", None)
        # Passive declares read ready counts only, which RabbitMQ keeps at 0 while a consumer has room; the
        # management API also counts what other workers hold, which an idle worker cannot know.
        self.idle_depths_known = not self.management_url

    def depths(self, queues: Iterable[str], dead: Mapping[str, int] | None = None) -> list[QueueDepth]:
        dead = dead or {}
        found = []
        for name in queues:
            depth = QueueDepth(name=name, dead=dead.get(name, 0))
            if self.management_url:
                ready, unacked = self._managed(name)
                delayed_ready, delayed_unacked = self._managed(dq_name(name))
                depth.ready, depth.in_progress, depth.delayed = (
                    ready,
                    unacked,
                    delayed_ready + delayed_unacked,
                )
            else:
                depth.ready = (self.broker.queue_counts(name) or (0, 0))[0]
                depth.delayed = (self.broker.queue_counts(dq_name(name)) or (0, 0))[0]
            found.append(depth)
        return found

    def _managed(self, queue: str) -> tuple[int, int]:
        """``(messages_ready, messages_unacknowledged)`` of ``queue`` by the management API ((0, 0): none)."""
        parts = urlsplit(self.management_url)
        vhost = self.broker.parameters[0].virtual_host
        base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}"
        if not base.endswith("/api"):
            base += "/api"
        request = urllib.request.Request(f"{base}/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}")
        user = parts.username or self.broker.parameters[0].credentials.username
        password = parts.password or self.broker.parameters[0].credentials.password
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - a configured URL
                data = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return 0, 0
            raise
        return int(data.get("messages_ready") or 0), int(data.get("messages_unacknowledged") or 0)

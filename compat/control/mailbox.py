"""The control channel on Redis: a broadcast every worker process hears, and a reply list per request.

A request is published on ``<broker_namespace>:control`` (pub/sub: a worker process blocks on its
subscription, nothing polls while idle). A request that wants replies names a list,
``<broker_namespace>:control:reply:<ticket>``; each worker pushes ``{node: reply}`` there and the caller
blocks on it (``BLPOP``) until ``limit`` replies came or ``timeout`` passed. The list expires soon after,
so a reply that arrives late is never read by anyone and never stays.

Like Celery's broadcast (a fanout exchange), a request reaches the workers subscribed when it is sent: a
worker that is down or reconnecting misses it. Revocations do not depend on it: the result store keeps
them (``follow_revocations``).

The Redis is the stores' (``compat.stores.redis_for``): the result backend's, whatever the broker.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from ..stores import redis_for

logger = logging.getLogger("compat.control")

#: Seconds a reply list lives after the last reply was pushed.
REPLY_TTL = 60

#: Seconds one BLPOP for replies waits at most (the caller's timeout is waited out in such slices).
BLPOP_SLICE = 1.0

#: The largest request or reply read off the channel; anything bigger is dropped with a log line.
MAX_PAYLOAD = 1024 * 1024


def dumps(value: Any) -> str:
    """JSON for a request or reply; what JSON cannot carry is sent as its ``repr`` (as Celery's jsonify)."""
    return json.dumps(value, default=repr)


class Mailbox:
    """One app's control channel."""

    def __init__(self, app: Any) -> None:
        client = redis_for(app)
        if client is None:
            raise RuntimeError(
                "app.control needs a Redis: set result_backend (or broker_url) to a redis:// URL"
            )
        self.client: redis.Redis = client
        self.channel = f"{app.conf.broker_namespace}:control"

    def reply_key(self, ticket: str) -> str:
        return f"{self.channel}:reply:{ticket}"

    # -- caller side -------------------------------------------------------------------------------
    def broadcast(
        self,
        command: str,
        arguments: dict[str, Any],
        destination: list[str] | None,
        reply: bool,
        timeout: float,
        limit: int | None,
        callback: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]] | None:
        """Publish one request; with ``reply``, the replies in arrival order (``[{node: reply}, ...]``)."""
        ticket = uuid.uuid4().hex
        request = {
            "command": command,
            "arguments": arguments,
            "destination": destination,
            "ticket": ticket,
            "reply_to": self.reply_key(ticket) if reply else None,
        }
        self.client.publish(self.channel, dumps(request))
        if not reply:
            return None
        return self._collect(self.reply_key(ticket), timeout, limit, callback)

    def _collect(
        self, key: str, timeout: float, limit: int | None, callback: Callable | None
    ) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while limit is None or len(replies) < limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # BLPOP takes a float timeout (Redis >= 6); 0 would mean "forever", so never pass it. One
                # wait is at most BLPOP_SLICE: a longer one would outlast the client's socket timeout (5 s
                # by default in redis-py 8) and raise instead of returning the replies so far.
                item = self.client.blpop([key], timeout=max(min(remaining, BLPOP_SLICE), 0.01))
                if item is None:
                    continue  # the loop ends at the deadline
                try:
                    answer = json.loads(item[1])
                except ValueError:
                    continue
                if not isinstance(answer, dict):
                    continue
                replies.append(answer)
                if callback is not None:
                    callback(answer)
        finally:
            self.client.delete(key)
        return replies

    # -- worker side -------------------------------------------------------------------------------
    def reply(self, key: str, node: str, answer: Any) -> None:
        """Push ``{node: answer}`` onto the caller's reply list."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, dumps({node: answer}))
            pipe.expire(key, REPLY_TTL)
            pipe.execute()

    def listen(self, on_request: Callable[[dict[str, Any]], None]) -> threading.Thread:
        """Call ``on_request(request)`` for each request from now on, in a daemon thread."""
        ready = threading.Event()
        thread = threading.Thread(
            target=self._follow, args=(on_request, ready), name="compat-control", daemon=True
        )
        thread.start()
        ready.wait(5)  # subscribed: a request sent after listen() returns is heard
        return thread

    def _follow(self, on_request: Callable[[dict[str, Any]], None], ready: threading.Event) -> None:
        while True:
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(self.channel)
                for item in pubsub.listen():
                    if item.get("type") == "subscribe":
                        ready.set()
                    elif item.get("type") == "message":
                        self._dispatch(item["data"], on_request)
            except Exception:  # an outage: subscribe again
                logger.debug("control channel lost; subscribing again", exc_info=True)
                time.sleep(1.0)

    @staticmethod
    def _dispatch(data: bytes, on_request: Callable[[dict[str, Any]], None]) -> None:
        if len(data) > MAX_PAYLOAD:
            logger.warning("control request of %d bytes dropped", len(data))
            return
        try:
            request = json.loads(data)
        except ValueError:
            logger.warning("control request that is not JSON dropped")
            return
        if isinstance(request, dict) and isinstance(request.get("command"), str):
            on_request(request)

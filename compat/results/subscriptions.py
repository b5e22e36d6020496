"""The pub/sub connection ``RedisStore.wait`` listens on: one per thread, kept from one wait to the next.

A connection opened for each wait and closed after it put a TCP connect, the client handshake and the
SUBSCRIBE round trip (~0.5 ms here, a TLS handshake more on ``rediss://``) before the first completion
could be heard, and the close (~0.1 ms) between the completion and ``get()`` returning. Kept, a wait
costs its SUBSCRIBE alone: it unsubscribes as it ends, and the replies to that are read at the start
of the next wait (a late message on an old channel is one no waiter asks for).

A thread's connection is dropped and replaced when a wait fails (its replies are then unknown), when
the process has forked since (the socket is the parent's), or when Redis closed it while it was idle
(its ``timeout``, a restart): the subscribe is tried once more on a new connection.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis


class Subscriptions:
    """Each thread's kept pub/sub connection on ``client``."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._local = threading.local()

    @contextmanager
    def subscribed(self, channels: list[str], deadline: float | None) -> Iterator[Any]:
        """This thread's pub/sub, subscribed to ``channels`` (confirmed, unless ``deadline`` came first)."""
        try:
            pubsub = self._subscribe(self._pubsub(), channels, deadline)
        except redis.exceptions.ConnectionError:  # closed by Redis while idle (and dropped by now)
            pubsub = self._subscribe(self._pubsub(), channels, deadline)  # once more, on a new connection
        try:
            yield pubsub
        except BaseException:
            self._drop()
            raise
        try:
            pubsub.unsubscribe()
        except redis.exceptions.RedisError:
            self._drop()

    def _subscribe(self, pubsub: Any, channels: list[str], deadline: float | None) -> Any:
        try:
            if set(pubsub.channels) - pubsub.pending_unsubscribe_channels:
                pubsub.unsubscribe()  # a reconnect subscribed again what the last wait had let go
            pubsub.subscribe(*channels)
            _await_subscriptions(pubsub, len(channels), deadline)
        except BaseException:
            self._drop()
            raise
        return pubsub

    def _pubsub(self) -> Any:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        pubsub = self.client.pubsub()
        self._local.held = (os.getpid(), pubsub)
        return pubsub

    def _drop(self) -> None:
        held = self._local.__dict__.pop("held", None)
        if held is not None and held[0] == os.getpid():  # a forked child leaves its parent's socket be
            held[1].close()


def _await_subscriptions(pubsub: Any, count: int, deadline: float | None) -> None:
    """Read subscribe confirmations so a completion published after this point cannot be missed.

    Each confirmation carries the connection's subscription count; the replies to the last wait's
    unsubscribe come first (Redis answers in order), so the count reaching ``count`` is this wait's.
    """
    confirmed = 0
    while confirmed < count:
        remaining = 5.0 if deadline is None else max(0.0, deadline - time.monotonic())
        message = pubsub.get_message(timeout=remaining)
        if message is None:
            if deadline is not None and time.monotonic() >= deadline:
                return
            continue
        if message["type"] == "subscribe":
            confirmed = max(confirmed, int(message["data"]))

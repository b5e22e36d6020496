"""A worker process's acknowledging success writes, sent by one thread in pipelines.

A stored success that also acknowledges its message (``RedisStore.set_state_acking``) is one script call:
on the worker thread that is a round trip per message, and a thread that waits on a socket gives up the
GIL to seven that want it back (some 40% of a trivial stored task's worker CPU here). Such a write is
self-contained (nothing after it can tell, ``TaskState.inline_ack``), so the worker thread hands it to
this process's writer thread and takes its next message; the writer sends everything waiting in one
pipeline. An idle worker's write goes as soon as the writer wakes (a thread switch); under load, the
writes that queue while a pipeline is in flight go in the next one.

What holds: the record and the acknowledgement stay together in one script (both or neither), so a
crash before the writer sent them leaves the message unacknowledged and it runs again, never lost; a
failed pipeline is sent again (``RETRY_SECONDS``) until it gets through or the worker stops; a graceful
stop sends what waits (``stop``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

logger = logging.getLogger("compat.results")

RETRY_SECONDS = 0.5


class StateWriter:
    """The waiting writes (a registered script, its keys and arguments) and the thread that sends them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.waiting: list[tuple[Any, list, list]] = []
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="compat-state-writer", daemon=True)
        self.thread.start()
        #: Writes sent, and the pipelines they took.
        self.sent = 0
        self.pipelines = 0

    def submit(self, script: Any, keys: list, args: list) -> None:
        """Queue one script call; the writer thread sends it."""
        with self.lock:
            self.waiting.append((script, keys, args))
        self.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Send what waits, then end the thread."""
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()  # a submit after this sets it again; one before is in the batch below
            with self.lock:
                batch, self.waiting = self.waiting, []
            if batch:
                self._send(batch)
            elif self.stopping:
                return

    def _send(self, batch: list[tuple[Any, list, list]]) -> None:
        failed = False
        while True:
            try:
                # EVALSHA by hand: a pipeline given the scripts asks SCRIPT EXISTS first, a round trip
                with self.client.pipeline(transaction=False) as pipe:
                    for script, keys, args in batch:
                        pipe.evalsha(script.sha, len(keys), *keys, *args)
                    pipe.execute()
            except redis.exceptions.NoScriptError:  # a restarted or flushed Redis: load them, send again
                for script in {script for script, _, _ in batch}:
                    self.client.script_load(script.script)
                continue  # those that ran refuse a second write and find their ack done: no harm
            except Exception as exc:
                if not failed:
                    logger.warning("could not store %d task states (%s); retrying", len(batch), exc)
                failed = True
                if self.stopping:
                    return  # unacknowledged: those messages run again
                threading.Event().wait(RETRY_SECONDS)
                continue
            self.sent += len(batch)
            self.pipelines += 1
            return

"""The outbox relay: sends entries whose commit-time delivery failed, as soon as the broker takes them.

It runs as a thread in every ``rundramatiq`` worker process (``CELERY_OUTBOX_RELAY_IN_WORKERS``, on by
default: wherever tasks run, their events are relayed) and as ``python manage.py outbox relay`` for a
dedicated process. Any number of relays may run: each leases the entries it takes (``SKIP LOCKED`` on
PostgreSQL), and a duplicate send is skipped by the worker. While the broker is down a relay tries
once per ``CELERY_OUTBOX_RELAY_INTERVAL`` seconds (1) and logs the outage once, not every poll.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from dramatiq.middleware import Middleware

from . import outbox

log = logging.getLogger("compat.outbox")

PURGE_EVERY = 60.0


def settings() -> tuple[float, bool]:
    """``(interval, in_workers)`` from the app's settings."""
    from compat.app import get_current_app

    conf = get_current_app().conf
    return float(conf.get("outbox_relay_interval", 1.0)), bool(conf.get("outbox_relay_in_workers", True))


class Relay:
    """Polls the outbox every ``interval`` seconds (at once again while full batches come back)."""

    def __init__(self, interval: float | None = None, batch: int = 100) -> None:
        self.interval = settings()[0] if interval is None else float(interval)
        self.batch = batch
        self.stopping = threading.Event()
        self.outage_since: float | None = None
        self.database_down = False
        self.next_purge = 0.0
        self.thread: threading.Thread | None = None

    def step(self) -> outbox.RelayOutcome:
        """One poll: relay a batch, purge expired entries once a minute; the outcome, logged on change."""
        outcome = outbox.relay_once(self.batch)
        self._report(outcome)
        if time.monotonic() >= self.next_purge:
            self.next_purge = time.monotonic() + PURGE_EVERY
            outbox.purge()
        return outcome

    def run(self) -> None:
        """Relay until ``stop()``; a database outage is logged once and waited out."""
        from django.db import close_old_connections, connections

        while not self.stopping.is_set():
            wait = self.interval
            try:
                close_old_connections()  # a long-lived thread: drop connections the database closed
                outcome = self.step()
                if self.database_down:
                    log.warning("outbox relay: the database is reachable again")
                    self.database_down = False
                if outcome.unavailable is None and outcome.taken >= self.batch:
                    wait = 0.0
            except Exception:
                if not self.database_down:
                    log.exception("outbox relay: cannot read the outbox; retrying every %.1f s",
                                  self.interval)
                    self.database_down = True
            self.stopping.wait(wait)
        connections.close_all()

    def _report(self, outcome: outbox.RelayOutcome) -> None:
        if outcome.unavailable is not None:
            if self.outage_since is None:
                self.outage_since = time.monotonic()
                log.warning(
                    "outbox relay: the broker is unavailable (%s); events wait in the outbox, retrying every "
                    "%.1f s",
                    outcome.unavailable,
                    self.interval,
                )
        elif self.outage_since is not None and outcome.sent:
            log.warning(
                "outbox relay: the broker is back after %.1f s; relaying waiting events",
                time.monotonic() - self.outage_since,
            )
            self.outage_since = None
        if outcome.sent:
            log.info("outbox relay: sent %d event(s)", outcome.sent)

    def start(self) -> Relay:
        """Run in a daemon thread."""
        self.thread = threading.Thread(target=self.run, name="compat-outbox-relay", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)


class RelayInWorker(Middleware):
    """Starts a relay thread when a worker process boots and stops it when it shuts down."""

    def __init__(self) -> None:
        self.relay: Relay | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        interval, in_workers = settings()
        if in_workers:
            self.relay = Relay(interval).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

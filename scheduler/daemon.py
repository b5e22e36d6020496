"""The scheduler daemon: APScheduler as the clock, Redis for leadership and the run ledger.

Every daemon runs the same APScheduler ``BlockingScheduler`` (memory job store, one job per
entry), so a standby is warm.  A job only *enqueues*: when it fires, the daemon checks the
fenced lease, works out which runs of the entry are due since the last run recorded in Redis,
applies the entry's misfire policy, claims each run's dedupe key and calls ``enqueue`` (by
default the app's ``send_task``).  Because the due runs are computed from the shared ledger, a
new leader's first firing (and the catch-up pass it makes on election) enqueues the ticks that
fell into the failover gap, late but once.

Entries whose schedule has no timetable (a ``BaseSchedule`` subclass, ``solar``, ``clocked``,
database interval rows) are asked ``is_due(last_run_at)`` by one poll job, as beat asks them; each
of their runs is claimed as "the run after the last one", so it too is enqueued once.  Dynamic
sources (the database rows) are refreshed by a job of their own, and the entries they return
replace the old ones while the daemon runs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import redis
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .executor import RunTimeExecutor
from .isdue import POLL_SECONDS, IsDueFiring
from .lease import Lease
from .misfire import plan_runs
from .runs import LedgerStore, RunLedger, Store, to_ms
from .sources import Entry
from .triggers import build_trigger, fire_times_between, has_timetable, last_fire_time

log = logging.getLogger("scheduler")
Enqueue = Callable[..., Any]


class Daemon(IsDueFiring):
    """Fires schedule entries through ``enqueue`` while holding the leader lease.

    Parameters:
      entries: validated schedule entries.
      enqueue: ``enqueue(task_name, args=..., kwargs=..., **options)``, e.g. ``app.send_task``.
      client: redis-py client for the lease and the run ledger.
      tz: timezone for crontab entries.
      key_prefix: namespace of this schedule's Redis keys (lease, claims, last runs).
      lease_ttl: lease length in seconds.
      sources: dynamic sources (``refresh() -> list[Entry] | None``, ``interval`` seconds), e.g.
        ``scheduler.database.DatabaseSource``; their entries join ``entries``.
    """

    def __init__(
        self,
        entries: Sequence[Entry],
        enqueue: Enqueue,
        client: redis.Redis,
        tz: tzinfo,
        key_prefix: str,
        lease_ttl: float = 15.0,
        sources: Sequence[Any] = (),
    ) -> None:
        self.enqueue, self.tz, self.key_prefix = enqueue, tz, key_prefix
        self.lease = Lease(client, f"{key_prefix}:leader", ttl=lease_ttl)
        self.ledger = RunLedger(client, key_prefix)
        self.static = list(entries)
        self.sources = list(sources)
        self.entries: dict[str, Entry] = {}
        self.triggers: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._next_check: dict[str, float] = {}  # is_due entries: monotonic time of the next look
        self._failing: set[str] = set()  # is_due entries whose last check raised
        self._entries_lock = threading.RLock()
        self._clashes: list[str] = []
        self._stop = threading.Event()
        self.scheduler: BlockingScheduler | None = None
        self.set_entries(self.static)
        if self.sources:
            self.refresh(force=True)  # a source loaded before (``--list``, ``load_entries``) says "unchanged"

    # -- entries -----------------------------------------------------------------------------------
    def set_entries(self, entries: Sequence[Entry]) -> None:
        """Make ``entries`` the daemon's entries; jobs of changed, new and removed ones follow."""
        with self._entries_lock:
            wanted = {e.name: e for e in entries}
            for name in [n for n in self.entries if n not in wanted or wanted[n] != self.entries[n]]:
                with self._locks[name]:
                    del self.entries[name]
                    self.triggers.pop(name, None)
                    self._next_check.pop(name, None)
                    self._remove_job(name)
            for name, entry in wanted.items():
                if name in self.entries:
                    continue
                self._locks.setdefault(name, threading.Lock())
                self.entries[name] = entry
                if has_timetable(entry.schedule):
                    self.triggers[name] = build_trigger(entry.schedule, self.tz)
                    self._add_job(name)

    def refresh(self, force: bool = False) -> None:
        """Ask each dynamic source for its entries; apply them if any source changed (or ``force``)."""
        changed, dynamic = False, []
        for source in self.sources:
            entries = source.refresh()
            changed = changed or entries is not None
            dynamic.extend(source.entries if entries is None else entries)
        if not (changed or force):
            return
        taken = {e.name: e.source for e in self.static}
        clashes = sorted(e.name for e in dynamic if e.name in taken)
        if clashes and clashes != self._clashes:
            log.error(
                "entries %s are defined twice (settings or actors, and database rows): "
                "the database rows are skipped",
                clashes,
            )
        self._clashes = clashes
        self.set_entries(self.static + [e for e in dynamic if e.name not in taken])

    def store(self, entry: Entry) -> Store:
        """Where ``entry``'s last run is kept: its own store, else the Redis ledger."""
        return entry.store if entry.store is not None else LedgerStore(self.ledger, entry.name)

    def task_id(self, entry: Entry, scheduled: datetime) -> str:
        """A deterministic task id per (entry, scheduled time): duplicates are visible downstream."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.key_prefix}:{entry.name}:{to_ms(scheduled)}"))

    def fire_due(
        self,
        name: str,
        upto: datetime,
        now: datetime | None = None,
        notes: list[str] | None = None,
        after: datetime | None = None,
    ) -> list[datetime]:
        """Enqueue the runs of ``name`` due at or before ``upto``; returns the scheduled times sent.

        ``after`` stands in for the last run of an entry never run (the start of a gap with no leader).
        A backlog note is logged, or appended to ``notes`` so a caller can log one line for all.
        """
        if not self.lease.is_held() or name not in self.triggers:
            return []
        with self._locks[name]:
            entry = self.entries.get(name)
            if entry is None or name not in self.triggers:  # replaced or removed meanwhile
                return []
            store = self.store(entry)
            now = now or datetime.now(UTC)
            if not store.gate(now):
                return []
            due, more, latest = self._due(name, store, upto, after)
            plan = plan_runs(due, now, entry.policy, more=more, latest=latest)
            if plan.note and notes is not None:
                notes.append(f"{name}: {plan.note}")
            elif plan.note:
                log.warning("entry %s: %s", name, plan.note)
            sent: list[datetime] = []
            for index, scheduled in enumerate(plan.runs):
                if not self.lease.is_held():  # fenced mid-way: leave the rest to the next leader
                    if index:
                        store.advance(plan.runs[index - 1], len(sent))
                    return sent
                if self._send(entry, scheduled):
                    sent.append(scheduled)
            if due:
                store.advance(latest or due[-1], len(sent))
            return sent

    def _due(
        self, name: str, store: Store, upto: datetime, after: datetime | None = None
    ) -> tuple[list[datetime], bool, datetime | None]:
        """Runs after the last one up to ``upto``: (first 10000, more?, latest if more)."""
        last = store.last() or after
        if last is None:  # never run anywhere: start with this tick, no history to replay
            return [upto], False, None
        trigger = self.triggers[name]
        due, more = fire_times_between(trigger, last, upto)
        return due, more, (last_fire_time(trigger, last, upto) if more else None)

    def _send(self, entry: Entry, scheduled: datetime) -> bool:
        """Claim and enqueue one run; False if another daemon already enqueued it."""
        task_id = self.task_id(entry, scheduled)
        if not self.ledger.claim(entry.name, scheduled, task_id):
            return False
        try:
            self.enqueue(
                entry.task,
                args=list(entry.args),
                kwargs=dict(entry.kwargs),
                **{**entry.options, "task_id": task_id},
            )
        except Exception:
            self.ledger.unclaim(entry.name, scheduled)
            raise
        log.info("entry %s: enqueued %s for %s", entry.name, entry.task, scheduled.isoformat())
        return True

    def catch_up(self, gap_start: datetime | None = None) -> None:
        """On election, enqueue whatever fell due while no daemon was leading.

        ``gap_start`` is when the previous leader was last seen leading (None: no leader for a while,
        or ever); an entry never run gets the ticks since then (or since it was created), so its first
        tick is not lost to a failover.
        """
        now, notes = datetime.now(UTC), []
        self._next_check.clear()  # is_due entries: look at each again now
        for name in list(self.triggers):
            entry = self.entries.get(name)
            if entry is None:
                continue
            store = self.store(entry)
            if store.last() is not None:
                self.fire_due(name, now, now, notes)
            elif gap_start is not None:
                since = getattr(store, "since", None)
                self.fire_due(name, now, now, notes, after=max(gap_start, since) if since else gap_start)
        if notes:
            log.warning("caught up after a gap with no leader: %s", "; ".join(notes))

    def keep_lease(self) -> None:
        """Loop: renew or acquire the lease; on election run a catch-up pass."""
        leading = False
        outage_since: float | None = None  # one log line when Redis goes away, one when it is back
        while not self._stop.is_set():
            try:
                self.lease.keep()
                if outage_since is not None:
                    log.warning("lease: redis reachable again after %.1fs", time.monotonic() - outage_since)
                    outage_since = None
            except redis.RedisError as exc:
                if outage_since is None:
                    outage_since = time.monotonic()
                    log.warning(
                        "lease: redis unreachable (%s); fenced validity left %.1fs; retrying quietly",
                        exc,
                        self.lease.remaining(),
                    )
            held = self.lease.is_held()
            if held and not leading:
                log.info("leader: lease %s acquired; firing", self.lease.key)
                gap_start = self._quietly(self.ledger.last_leading)
                threading.Thread(
                    target=self.catch_up, args=(gap_start,), name="scheduler-catch-up", daemon=True
                ).start()
            elif leading and not held:
                log.warning("standby: lease %s lost; stopped firing", self.lease.key)
            if held:
                self._quietly(self.ledger.mark_leading, datetime.now(UTC), 2 * self.lease.ttl)
            leading = held
            self._stop.wait(self.lease.ttl / 4 if held else min(self.lease.ttl / 4, 0.5))

    @staticmethod
    def _quietly(call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except redis.RedisError:  # the lease loop reports outages once; nothing more to say here
            return None

    def build_scheduler(self) -> BlockingScheduler:
        """An APScheduler ``BlockingScheduler``: one enqueue-only job per timetable entry, the poll
        job for ``is_due`` entries, and one refresh job per dynamic source."""
        scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": RunTimeExecutor(max_workers=4)},
            timezone=self.tz,
        )
        self.scheduler = scheduler
        with self._entries_lock:
            for name in self.triggers:
                self._add_job(name)
        scheduler.add_job(
            lambda run_time=None: self.poll_due(),
            IntervalTrigger(seconds=POLL_SECONDS),
            id="<poll is_due>",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        for index, source in enumerate(self.sources):
            scheduler.add_job(
                lambda run_time=None: self._refresh_quietly(),
                IntervalTrigger(seconds=source.interval),
                id=f"<refresh {index}>",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        return scheduler

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # a source's own errors are logged by it; never stop the clock
            log.exception("refreshing the schedule failed; keeping the entries loaded before")

    def _add_job(self, name: str) -> None:
        # coalesce and no grace at this level: the ledger and MisfirePolicy decide what is due.
        if self.scheduler is None:
            return
        self.scheduler.add_job(
            self._job(name),
            self.triggers[name],
            id=name,
            name=name,
            coalesce=True,
            misfire_grace_time=None,
            max_instances=1,
            replace_existing=True,
        )

    def _remove_job(self, name: str) -> None:
        if self.scheduler is not None and self.scheduler.get_job(name) is not None:
            self.scheduler.remove_job(name)

    def _job(self, name: str) -> Callable[..., list[datetime]]:
        def job(run_time: datetime | None = None) -> list[datetime]:
            # RunTimeExecutor always passes run_time; the default only satisfies APScheduler's
            # signature check, which expects the job's args to be complete at add_job time.
            return self.fire_due(name, run_time or datetime.now(UTC))

        job.__name__ = job.__qualname__ = f"fire[{name}]"
        return job

    def run(self) -> None:
        """Block: keep the lease in a thread and run the scheduler until SIGINT/SIGTERM."""
        self.build_scheduler()
        keeper = threading.Thread(target=self.keep_lease, name="scheduler-lease", daemon=True)
        keeper.start()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop())
        log.info(
            "scheduler: %d entries, key prefix %s, lease ttl %gs",
            len(self.entries),
            self.key_prefix,
            self.lease.ttl,
        )
        try:
            self.scheduler.start()
        finally:
            self._stop.set()
            keeper.join(timeout=5)
            try:
                self.lease.release()
            except redis.RedisError:
                pass

    def stop(self) -> None:
        """Stop firing and shut the scheduler down (the lease is released by ``run``)."""
        self._stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

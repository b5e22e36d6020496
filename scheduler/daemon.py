"""The scheduler daemon: APScheduler as the clock, Redis for leadership and the run ledger.

Every daemon runs the same APScheduler ``BlockingScheduler`` (memory job store, one job per
entry), so a standby is warm.  A job only *enqueues*: when it fires, the daemon checks the
fenced lease, works out which runs of the entry are due since the last run recorded in Redis,
applies the entry's misfire policy, claims each run's dedupe key and calls ``enqueue`` (by
default the app's ``send_task``).  Because the due runs are computed from the shared ledger, a
new leader's first firing (and the catch-up pass it makes on election) enqueues the ticks that
fell into the failover gap, late but once.
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
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler

from .lease import Lease
from .misfire import plan_runs
from .runs import RunLedger, to_ms
from .sources import Entry
from .triggers import build_trigger, fire_times_between, last_fire_time

log = logging.getLogger("scheduler")
Enqueue = Callable[..., Any]


class RunTimeExecutor(ThreadPoolExecutor):
    """A thread pool executor that passes each job its scheduled run time.

    APScheduler 3 does not tell a job function when it was *meant* to run; we need that time
    to key the dedupe claim.  The scheduler coalesces (``coalesce=True``), so ``run_times`` holds
    one time; older backlog is recovered from the Redis ledger instead.
    """

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        run_time = run_times[-1]

        def run() -> list[JobExecutionEvent]:
            try:
                job.func(run_time)
            except Exception as exc:
                log.exception("entry %s: firing for %s failed", job.id, run_time.isoformat())
                alias = job._jobstore_alias
                return [JobExecutionEvent(EVENT_JOB_ERROR, job.id, alias, run_time, exception=exc)]
            return [JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time)]

        future = self._pool.submit(run)
        future.add_done_callback(lambda f: self._run_job_success(job.id, f.result()))


class Daemon:
    """Fires schedule entries through ``enqueue`` while holding the leader lease.

    Parameters:
      entries: validated schedule entries.
      enqueue: ``enqueue(task_name, args=..., kwargs=..., **options)``, e.g. ``app.send_task``.
      client: redis-py client for the lease and the run ledger.
      tz: timezone for crontab entries.
      key_prefix: namespace of this schedule's Redis keys (lease, claims, last runs).
      lease_ttl: lease length in seconds.
    """

    def __init__(
        self,
        entries: Sequence[Entry],
        enqueue: Enqueue,
        client: redis.Redis,
        tz: tzinfo,
        key_prefix: str,
        lease_ttl: float = 15.0,
    ) -> None:
        self.entries = {e.name: e for e in entries}
        self.triggers = {e.name: build_trigger(e.schedule, tz) for e in entries}
        self.enqueue, self.tz, self.key_prefix = enqueue, tz, key_prefix
        self.lease = Lease(client, f"{key_prefix}:leader", ttl=lease_ttl)
        self.ledger = RunLedger(client, key_prefix)
        self._locks = {name: threading.Lock() for name in self.entries}
        self._stop = threading.Event()
        self.scheduler: BlockingScheduler | None = None

    def task_id(self, entry: Entry, scheduled: datetime) -> str:
        """A deterministic task id per (entry, scheduled time): duplicates are visible downstream."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.key_prefix}:{entry.name}:{to_ms(scheduled)}"))

    def fire_due(
        self, name: str, upto: datetime, now: datetime | None = None, notes: list[str] | None = None
    ) -> list[datetime]:
        """Enqueue the runs of ``name`` due at or before ``upto``; returns the scheduled times sent.

        A backlog note is logged, or appended to ``notes`` so a caller can log one line for all.
        """
        if not self.lease.is_held():
            return []
        entry = self.entries[name]
        with self._locks[name]:
            now = now or datetime.now(UTC)
            due, more, latest = self._due(name, upto)
            plan = plan_runs(due, now, entry.policy, more=more, latest=latest)
            if plan.note and notes is not None:
                notes.append(f"{name}: {plan.note}")
            elif plan.note:
                log.warning("entry %s: %s", name, plan.note)
            sent: list[datetime] = []
            for index, scheduled in enumerate(plan.runs):
                if not self.lease.is_held():  # fenced mid-way: leave the rest to the next leader
                    if index:
                        self.ledger.advance(name, plan.runs[index - 1])
                    return sent
                if self._send(entry, scheduled):
                    sent.append(scheduled)
            if due:
                self.ledger.advance(name, latest or due[-1])
            return sent

    def _due(self, name: str, upto: datetime) -> tuple[list[datetime], bool, datetime | None]:
        """Runs after the ledger's last one up to ``upto``: (first 10000, more?, latest if more)."""
        last = self.ledger.last(name)
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

    def catch_up(self) -> None:
        """On election, enqueue whatever fell due while no daemon was leading."""
        now, notes = datetime.now(UTC), []
        for name in self.entries:
            if self.ledger.last(name) is not None:
                self.fire_due(name, now, now, notes)
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
                threading.Thread(target=self.catch_up, name="scheduler-catch-up", daemon=True).start()
            elif leading and not held:
                log.warning("standby: lease %s lost; stopped firing", self.lease.key)
            leading = held
            self._stop.wait(self.lease.ttl / 4 if held else min(self.lease.ttl / 4, 0.5))

    def build_scheduler(self) -> BlockingScheduler:
        """An APScheduler ``BlockingScheduler`` with one enqueue-only job per entry."""
        scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": RunTimeExecutor(max_workers=4)},
            timezone=self.tz,
        )
        for name, trigger in self.triggers.items():
            # coalesce and no grace at this level: the ledger and MisfirePolicy decide what is due.
            scheduler.add_job(
                self._job(name),
                trigger,
                id=name,
                name=name,
                coalesce=True,
                misfire_grace_time=None,
                max_instances=1,
            )
        return scheduler

    def _job(self, name: str) -> Callable[..., list[datetime]]:
        def job(run_time: datetime | None = None) -> list[datetime]:
            # RunTimeExecutor always passes run_time; the default only satisfies APScheduler's
            # signature check, which expects the job's args to be complete at add_job time.
            return self.fire_due(name, run_time or datetime.now(UTC))

        job.__name__ = job.__qualname__ = f"fire[{name}]"
        return job

    def run(self) -> None:
        """Block: keep the lease in a thread and run the scheduler until SIGINT/SIGTERM."""
        self.scheduler = self.build_scheduler()
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

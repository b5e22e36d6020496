"""An APScheduler executor that tells each job when it was *meant* to run."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor

log = logging.getLogger("scheduler")


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

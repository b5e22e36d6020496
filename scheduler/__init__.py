"""Scheduler daemon: APScheduler 3 as the clock, a Redis lease for leadership, a Redis ledger so
each scheduled run is enqueued exactly once, also across a leader's death.

Modules, one noun each: ``sources`` (entries from the beat schedule and periodiq actors),
``database`` (entries from django-celery-beat's tables; the one module that imports Django),
``triggers`` (APScheduler triggers, cron numbering, DST, which schedules have a timetable),
``misfire`` (late-run policy), ``lease`` (leader lease with fencing), ``runs`` (dedupe claims, the
last-run ledger and the per-entry stores), ``executor`` (the job pool), ``daemon`` (the
BlockingScheduler process) and ``cli`` (``python -m scheduler``).
"""

"""Scheduler daemon: APScheduler 3 as the clock, a Redis lease for leadership, a Redis ledger so
each scheduled run is enqueued exactly once, also across a leader's death.

Modules, one noun each: ``sources`` (entries from the beat schedule and periodiq actors),
``triggers`` (APScheduler triggers, cron numbering, DST), ``misfire`` (late-run policy),
``lease`` (leader lease with fencing), ``runs`` (dedupe claims and last-run ledger), ``daemon``
(the BlockingScheduler process) and ``cli`` (``python -m scheduler``).
"""

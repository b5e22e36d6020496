"""Celery's periodic schedule API (``celery.schedules`` -> ``compat.schedules``).

Plain value objects that say *when* something runs, free of APScheduler and Django, so a settings
module can build ``CELERY_BEAT_SCHEDULE`` with only ``compat``: ``schedule`` (an interval),
``crontab``, ``solar``, django-celery-beat's ``clocked`` and ``TzAwareCrontab``, and ``BaseSchedule``
for your own (override ``is_due`` and ``remaining_estimate``; the scheduler daemon asks ``is_due``
as beat does).  The daemon turns the built-in ones into APScheduler triggers (``scheduler/``).
"""

from .base import (
    BaseSchedule,
    app_timezone,
    maybe_make_aware,
    maybe_schedule,
    maybe_timedelta,
    remaining,
    schedstate,
    schedule,
)
from .clocked import clocked
from .cron import TzAwareCrontab, crontab
from .fields import DAY_NAMES, MONTH_NAMES, ParseException
from .solar import solar

__all__ = [
    "BaseSchedule",
    "DAY_NAMES",
    "MONTH_NAMES",
    "ParseException",
    "TzAwareCrontab",
    "app_timezone",
    "clocked",
    "crontab",
    "maybe_make_aware",
    "maybe_schedule",
    "maybe_timedelta",
    "remaining",
    "schedstate",
    "schedule",
    "solar",
]

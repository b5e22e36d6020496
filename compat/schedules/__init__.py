"""Celery's periodic schedule objects (``celery.schedules`` -> ``compat.schedules``)."""

from .fields import DAY_NAMES, MONTH_NAMES, ParseException, crontab, maybe_timedelta, schedule, solar

__all__ = ["DAY_NAMES", "MONTH_NAMES", "ParseException", "crontab", "maybe_timedelta", "schedule", "solar"]

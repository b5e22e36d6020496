"""Keep ``PeriodicTasks.last_update`` current, as django-celery-beat's signals do.

The scheduler daemon polls that one row to notice admin edits within a second or two.  Bulk
``QuerySet.update()`` and raw SQL send no signals: call ``PeriodicTasks.update_changed()`` after
them (the same rule as django-celery-beat; the daemon also reloads everything every 5 minutes).
"""

from __future__ import annotations

from django.db.models import signals


def connect() -> None:
    """Connect the change-tracking receivers (idempotent: Django dedupes by ``dispatch_uid``)."""
    from .models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        PeriodicTasks,
        SolarSchedule,
    )

    for signal in (signals.pre_save, signals.pre_delete):
        signal.connect(PeriodicTasks.changed, sender=PeriodicTask, dispatch_uid=f"compat_beat_task_{signal}")
    for model in (IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
        for signal in (signals.post_save, signals.post_delete):
            signal.connect(
                PeriodicTasks.update_changed,
                sender=model,
                dispatch_uid=f"compat_beat_{model.__name__}_{signal}",
            )

"""``clocked``: run once at a given time (django-celery-beat's ``ClockedSchedule``), due from then on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .base import BaseSchedule, maybe_make_aware, schedstate

__all__ = ["clocked", "NEVER_CHECK_TIMEOUT"]

NEVER_CHECK_TIMEOUT = 100_000_000  # seconds: django-celery-beat's "do not ask again"


class clocked(BaseSchedule):  # noqa: N801 - django-celery-beat's public name
    """``clocked(clocked_time)``: due once ``now() >= clocked_time`` (one-off)."""

    def __init__(self, clocked_time: datetime, nowfun: Any = None, app: Any = None) -> None:
        self.clocked_time = maybe_make_aware(clocked_time)
        super().__init__(nowfun=nowfun, app=app)

    def remaining_estimate(self, last_run_at: datetime | None) -> timedelta:
        return self.clocked_time - self.maybe_make_aware(self.now())

    def is_due(self, last_run_at: datetime | None) -> schedstate:
        remaining_s = max(self.remaining_estimate(None).total_seconds(), 0)
        if remaining_s == 0:
            return schedstate(is_due=True, next=NEVER_CHECK_TIMEOUT)
        return schedstate(is_due=False, next=remaining_s)

    def __repr__(self) -> str:
        return f"<clocked: {self.clocked_time}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, clocked) and self.clocked_time == other.clocked_time

    def __hash__(self) -> int:
        return hash(self.clocked_time)

    def __reduce__(self) -> tuple:
        return self.__class__, (self.clocked_time, self.nowfun)

"""``solar``: run at a solar event (sunrise, sunset, dawn, dusk, noon) for a place, computed with PyEphem.

PyEphem (``pip install ephem``, the ``solar`` extra) is the library Celery uses, so the times agree
with Celery's to the second.  Without it a ``solar(...)`` can still be declared (a settings module
imports cleanly), but computing with it raises ``ImproperlyConfigured``, and the scheduler daemon
refuses to start, naming the entry (``check()``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from compat.exceptions import ImproperlyConfigured

from .base import BaseSchedule, schedstate

__all__ = ["solar", "SOLAR_EVENTS"]

#: event -> (horizon, observer method, measure the sun's centre rather than its upper limb)
SOLAR_EVENTS: dict[str, tuple[str, str, bool]] = {
    "dawn_astronomical": ("-18", "next_rising", True),
    "dawn_nautical": ("-12", "next_rising", True),
    "dawn_civil": ("-6", "next_rising", True),
    "sunrise": ("-0:34", "next_rising", False),
    "solar_noon": ("0", "next_transit", False),
    "sunset": ("-0:34", "next_setting", False),
    "dusk_civil": ("-6", "next_setting", True),
    "dusk_nautical": ("-12", "next_setting", True),
    "dusk_astronomical": ("-18", "next_setting", True),
}
SEARCH_DAYS = 366  # events that do not happen every day (polar day and night) are searched this far


def _ephem() -> Any:
    try:
        import ephem
    except ImportError:
        raise ImproperlyConfigured(
            "solar schedules need the ephem library: pip install ephem (or this project's 'solar' extra)"
        ) from None
    return ephem


class solar(BaseSchedule):  # noqa: N801 - Celery's public name
    """``solar(event, lat, lon, nowfun=None, app=None)``: each ``event`` at latitude/longitude."""

    def __init__(self, event: str, lat: float, lon: float, **kwargs: Any) -> None:
        if event not in SOLAR_EVENTS:
            raise ValueError(
                f'Argument event "{event}" is invalid, must be one of {", ".join(sorted(SOLAR_EVENTS))}.'
            )
        if not -90 <= lat <= 90:
            raise ValueError(f"Argument latitude {lat} is invalid, must be between -90 and 90.")
        if not -180 <= lon <= 180:
            raise ValueError(f"Argument longitude {lon} is invalid, must be between -180 and 180.")
        self.event, self.lat, self.lon = event, lat, lon
        super().__init__(**kwargs)
        self.horizon, self.method, self.use_center = SOLAR_EVENTS[event]
        self._cal: Any = None

    def check(self) -> None:
        """Raise ``ImproperlyConfigured`` unless PyEphem is installed."""
        _ephem()

    @property
    def ephem(self) -> Any:
        return _ephem()

    @property
    def cal(self) -> Any:
        """The PyEphem observer at this place (no refraction model: the horizon angle says it all)."""
        if self._cal is None:
            observer = self.ephem.Observer()
            observer.lat, observer.lon, observer.elev = str(self.lat), str(self.lon), 0
            observer.horizon, observer.pressure = self.horizon, 0
            self._cal = observer
        return self._cal

    def next_event(self, after: datetime) -> datetime:
        """The first ``event`` after ``after`` (UTC), skipping days on which it does not happen."""
        sun = self.ephem.Sun()
        start = self.ephem.Date(self.maybe_make_aware(after).astimezone(UTC).replace(tzinfo=None))
        options = {"use_center": True} if self.use_center else {}
        for _ in range(SEARCH_DAYS):
            try:
                found = getattr(self.cal, self.method)(sun, start=start, **options)
                break
            except self.ephem.CircumpolarError:
                start = self.cal.next_antitransit(sun, start=start)
        else:
            found = start  # no such event for a year: check again then
        return found.datetime().replace(tzinfo=UTC)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time from ``now()`` until the first event after ``last_run_at``."""
        return self.next_event(last_run_at) - self.maybe_make_aware(self.now()).astimezone(UTC)

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due when an event happened after ``last_run_at``; ``next`` is the time to the following one."""
        rem = max(self.remaining_estimate(last_run_at).total_seconds(), 0)
        due = rem == 0
        if due:
            rem = max(self.remaining_estimate(self.now()).total_seconds(), 0)
        return schedstate(due, rem)

    def __repr__(self) -> str:
        return f"<solar: {self.event} at latitude {self.lat}, longitude: {self.lon}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, solar):
            return (other.event, other.lat, other.lon) == (self.event, self.lat, self.lon)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.event, self.lat, self.lon))

    def __reduce__(self) -> tuple:
        return self.__class__, (self.event, self.lat, self.lon)

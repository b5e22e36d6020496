"""Celery's periodic schedule objects: ``crontab``, ``schedule`` and (unsupported) ``solar``.

These are plain value objects that describe *when* something runs; the scheduler daemon
(``scheduler/``) turns them into APScheduler triggers.  Keeping them free of APScheduler and
Django means a settings module can build ``CELERY_BEAT_SCHEDULE`` with only ``compat``.

Field semantics follow Celery's ``crontab``: numbers, ``*``, ranges (``1-5``, wrapping
``fri-mon``), steps (``*/15``, ``5-40/10``), comma lists, day names (``sun``, ``monday``) and
month names (``jan``), or Python ints and iterables of ints.  One deliberate superset: day of
week ``7`` is Sunday as in cron (Celery itself rejects 7), so ``0`` and ``7`` both mean Sunday.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from datetime import timedelta

__all__ = ["crontab", "schedule", "solar", "maybe_timedelta", "ParseException"]

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class ParseException(ValueError):
    """A crontab field could not be parsed (a ``ValueError``, as in Celery)."""


def maybe_timedelta(value: timedelta | float | int) -> timedelta:
    """Return ``value`` as a ``timedelta``; numbers are seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"run_every must be a timedelta or a number of seconds, not {value!r}")
    return timedelta(seconds=float(value))


class _FieldParser:
    """Expands one crontab field into the set of values it allows."""

    def __init__(
        self,
        name: str,
        low: int,
        high: int,
        names: tuple[str, ...] = (),
        name_base: int = 0,
        limit: int | None = None,
    ):
        self.name, self.low, self.high = name, low, high
        self.limit = high if limit is None else limit  # day_of_week also accepts 7 (= 0, Sunday)
        self.names, self.name_base = names, name_base

    def parse(self, spec: object) -> frozenset[int]:
        if isinstance(spec, bool):
            raise ParseException(f"{self.name}: invalid value {spec!r}")
        if isinstance(spec, int):
            return frozenset([self._wrap(self._check(spec))])
        if isinstance(spec, str):
            values: set[int] = set()
            for part in spec.replace(" ", "").split(","):
                if not part:
                    raise ParseException(f"{self.name}: empty item in {spec!r}")
                values.update(self._part(part))
            return frozenset(values)
        if isinstance(spec, Iterable):
            return frozenset(v for item in spec for v in self.parse(item))
        raise TypeError(f"{self.name}: expected a str, int or iterable of ints, not {type(spec).__name__}")

    def _part(self, part: str) -> list[int]:
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit():
                raise ParseException(f"{self.name}: invalid step {step_text!r} in {part!r}")
            step = int(step_text)
            if step == 0:
                raise ParseException(f"{self.name}: step cannot be zero in {part!r}")
        if body == "*":
            first, last = self.low, self.high
        elif "-" in body[1:]:
            start, _, end = body.partition("-")
            first, last = self._number(start), self._number(end)
        else:
            first = self._number(body)
            last = self.high if step_text else first
        if last < first:  # Celery wraps ranges such as fri-mon or 22-2
            span = list(range(first, self.high + 1)) + list(range(self.low, last + 1))
        else:
            span = list(range(first, last + 1))
        return [self._wrap(v) for v in span[::step]]

    def _number(self, text: str) -> int:
        if text.startswith("-"):
            raise ParseException(f"{self.name}: negative numbers not supported ({text!r})")
        if text.isdigit():
            return self._check(int(text))
        lowered = text.lower()
        for index, short in enumerate(self.names):
            if lowered in (short, _FULL_NAMES[short]):
                return index + self.name_base
        raise ParseException(f"{self.name}: invalid literal {text!r}")

    def _wrap(self, value: int) -> int:
        return value - (self.high + 1 - self.low) if value > self.high else value

    def _check(self, value: int) -> int:
        if value > self.limit:
            raise ParseException(f"{self.name}: invalid end range: {value} > {self.limit}.")
        if value < self.low:
            raise ParseException(f"{self.name}: invalid beginning range: {value} < {self.low}.")
        return value


_FULL_NAMES = {
    "sun": "sunday",
    "mon": "monday",
    "tue": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "may": "may",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}


_PARSERS = {
    "minute": _FieldParser("minute", 0, 59),
    "hour": _FieldParser("hour", 0, 23),
    "day_of_week": _FieldParser("day_of_week", 0, 6, DAY_NAMES, limit=7),
    "day_of_month": _FieldParser("day_of_month", 1, 31),
    "month_of_year": _FieldParser("month_of_year", 1, 12, MONTH_NAMES, name_base=1),
}


class crontab:  # noqa: N801 - Celery's public name
    """A cron-like schedule; each field is expanded to a frozenset of allowed values.

    ``day_of_week`` uses cron numbering (0 and 7 are Sunday).  When both ``day_of_month`` and
    ``day_of_week`` are restricted, both must match (Celery's rule, not cron's "either").
    """

    def __init__(
        self,
        minute: object = "*",
        hour: object = "*",
        day_of_week: object = "*",
        day_of_month: object = "*",
        month_of_year: object = "*",
        **kwargs: object,
    ) -> None:
        if kwargs:
            raise TypeError(f"crontab() got unexpected arguments: {sorted(kwargs)}")
        self._orig = {
            "minute": minute,
            "hour": hour,
            "day_of_week": day_of_week,
            "day_of_month": day_of_month,
            "month_of_year": month_of_year,
        }
        self.minute = _PARSERS["minute"].parse(minute)
        self.hour = _PARSERS["hour"].parse(hour)
        self.day_of_week = _PARSERS["day_of_week"].parse(day_of_week)
        self.day_of_month = _PARSERS["day_of_month"].parse(day_of_month)
        self.month_of_year = _PARSERS["month_of_year"].parse(month_of_year)
        for field, values in self.fields().items():
            if not values:
                raise ParseException(f"{field}: {self._orig[field]!r} allows no value")

    def fields(self) -> dict[str, frozenset[int]]:
        """The expanded fields by Celery name."""
        return {
            "minute": self.minute,
            "hour": self.hour,
            "day_of_week": self.day_of_week,
            "day_of_month": self.day_of_month,
            "month_of_year": self.month_of_year,
        }

    def __repr__(self) -> str:
        o = self._orig
        text = " ".join(str(o[k]) for k in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week"))
        return f"<crontab: {text} (m/h/dM/MY/d)>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, crontab) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(tuple(self.fields().values()))


class schedule:  # noqa: N801 - Celery's public name
    """A fixed-interval schedule: ``schedule(run_every=timedelta | seconds)``.

    ``relative=True`` (Celery's "round to the resolution of the interval") is kept as an attribute
    so the scheduler can reject it clearly instead of silently ignoring it.
    """

    def __init__(self, run_every: timedelta | float | int, relative: bool = False) -> None:
        self.run_every = maybe_timedelta(run_every)
        if self.run_every <= timedelta(0):
            raise ValueError(f"run_every must be positive, got {self.run_every}")
        self.relative = bool(relative)

    @property
    def seconds(self) -> float:
        """The interval in seconds."""
        return self.run_every.total_seconds()

    def __repr__(self) -> str:
        return f"<freq: {self.run_every}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, schedule) and self.run_every == other.run_every

    def __hash__(self) -> int:
        return hash(self.run_every)


class solar:  # noqa: N801 - Celery's public name
    """Celery's sunrise/sunset schedule is not supported: it fails at definition time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError(
            "compat.schedules.solar is not supported: use crontab(...) with the app timezone"
        )

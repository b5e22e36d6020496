"""Crontab field parsing: one field (``"*/15"``, ``"mon-fri"``, ``[1, 2]``) to the set of values it allows.

Field semantics follow Celery's ``crontab``: numbers, ``*``, ranges (``1-5``, wrapping
``fri-mon``), steps (``*/15``, ``5-40/10``), comma lists, day names (``sun``, ``monday``) and
month names (``jan``), or Python ints and iterables of ints.  One deliberate superset: day of
week ``7`` is Sunday as in cron (Celery itself rejects 7), so ``0`` and ``7`` both mean Sunday.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PARSERS", "ParseException", "DAY_NAMES", "MONTH_NAMES"]

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class ParseException(ValueError):
    """A crontab field could not be parsed (a ``ValueError``, as in Celery)."""


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


PARSERS = {
    "minute": _FieldParser("minute", 0, 59),
    "hour": _FieldParser("hour", 0, 23),
    "day_of_week": _FieldParser("day_of_week", 0, 6, DAY_NAMES, limit=7),
    "day_of_month": _FieldParser("day_of_month", 1, 31),
    "month_of_year": _FieldParser("month_of_year", 1, 12, MONTH_NAMES, name_base=1),
}

"""compat.schedules: Celery's crontab field semantics, plus cron's 7 = Sunday."""

from datetime import UTC, datetime, timedelta

import pytest

from compat.schedules import ParseException, crontab, maybe_timedelta, schedule, solar


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("0", {0}),
        ("7", {0}),
        ("sun", {0}),
        ("Sunday", {0}),
        ("0,7", {0}),
        (7, {0}),
        ("0-7", set(range(7))),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("fri-mon", {5, 6, 0, 1}),
        ("5-7", {5, 6, 0}),
        ("*/2", {0, 2, 4, 6}),
        ("sat,sun", {6, 0}),
        ([1, 2], {1, 2}),
    ],
)
def test_day_of_week(spec, expected):
    assert crontab(day_of_week=spec).day_of_week == expected


@pytest.mark.parametrize(
    "field, spec, expected",
    [
        ("minute", "*/15", {0, 15, 30, 45}),
        ("minute", "5-40/10", {5, 15, 25, 35}),
        ("minute", 5, {5}),
        ("minute", range(3), {0, 1, 2}),
        ("hour", "22-2", {22, 23, 0, 1, 2}),
        ("hour", "5/6", {5, 11, 17, 23}),
        ("day_of_month", "1,15", {1, 15}),
        ("month_of_year", "jan,jul", {1, 7}),
        ("month_of_year", "*/3", {1, 4, 7, 10}),
    ],
)
def test_fields(field, spec, expected):
    assert getattr(crontab(**{field: spec}), field) == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"day_of_week": "8"}, "day_of_week: invalid end range: 8 > 7."),
        ({"minute": "60"}, "minute: invalid end range: 60 > 59."),
        ({"day_of_month": "0"}, "day_of_month: invalid beginning range: 0 < 1."),
        ({"minute": "foo"}, "minute: invalid literal 'foo'"),
        ({"hour": "-1"}, "hour: negative numbers not supported"),
        ({"minute": "*/0"}, "minute: step cannot be zero"),
        ({"day_of_week": "funday"}, "day_of_week: invalid literal 'funday'"),
    ],
)
def test_invalid_fields_raise_value_error(kwargs, message):
    with pytest.raises(ValueError) as info:
        crontab(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, ParseException)


def test_schedule_accepts_seconds_and_timedelta():
    assert schedule(5).run_every == timedelta(seconds=5)
    assert schedule(timedelta(minutes=2)).seconds == 120
    assert maybe_timedelta(1.5) == timedelta(seconds=1.5)
    with pytest.raises(ValueError):
        schedule(0)
    with pytest.raises(TypeError):
        schedule("5")


def test_solar_without_ephem_fails_clearly_when_used(monkeypatch):
    import sys

    from compat.exceptions import ImproperlyConfigured

    monkeypatch.setitem(sys.modules, "ephem", None)  # as if PyEphem were not installed
    sunset = solar("sunset", -37.81, 144.96)  # declaring it in settings still imports
    with pytest.raises(ImproperlyConfigured, match="solar schedules need the ephem library"):
        sunset.check()
    with pytest.raises(ImproperlyConfigured):
        sunset.is_due(datetime.now(UTC))


@pytest.mark.parametrize(
    "args, message",
    [
        (("sunup", 0, 0), 'event "sunup" is invalid'),
        (("sunset", 91, 0), "latitude 91"),
        (("sunset", 0, 181), "181"),
    ],
)
def test_solar_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        solar(*args)

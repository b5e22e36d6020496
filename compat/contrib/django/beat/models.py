"""django-celery-beat's models on its own tables (same names, columns and types), without Celery.

The Python API follows django-celery-beat's (``PeriodicTask.objects.enabled()``, ``.schedule``,
``IntervalSchedule.DAYS``, ``CrontabSchedule.from_schedule``, ``PeriodicTasks.update_changed()``),
so code that creates periodic tasks keeps working after its import line changes.  ``.schedule``
returns ``compat.schedules`` objects.  One difference: ``CrontabSchedule.timezone`` is the zone's
name (a string), where django-celery-beat's field gives a ``ZoneInfo``; ``.zone`` gives that.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from compat.schedules import TzAwareCrontab, clocked, crontab, schedule, solar
from compat.schedules.fields import PARSERS
from compat.schedules.solar import SOLAR_EVENTS

DAYS, HOURS, MINUTES, SECONDS, MICROSECONDS = "days", "hours", "minutes", "seconds", "microseconds"
PERIOD_CHOICES = (
    (DAYS, _("Days")),
    (HOURS, _("Hours")),
    (MINUTES, _("Minutes")),
    (SECONDS, _("Seconds")),
    (MICROSECONDS, _("Microseconds")),
)
SOLAR_SCHEDULES = [(event, _(event.replace("_", " ").capitalize())) for event in sorted(SOLAR_EVENTS)]


def cronexp(field: Any) -> str:
    """A crontab field as it appears in a cron expression."""
    return field and str(field).replace(" ", "") or "*"


def crontab_schedule_celery_timezone() -> str:
    """``CELERY_TIMEZONE`` when it names a zone, else UTC (django-celery-beat's default)."""
    name = getattr(settings, "CELERY_TIMEZONE", None)
    return name if name in available_timezones() else "UTC"


def _field_validator(name: str):
    def validate(value: str) -> None:
        try:
            PARSERS[name].parse(value)
        except (ValueError, TypeError) as exc:
            raise ValidationError(str(exc)) from None

    validate.__name__ = validate.__qualname__ = f"{name}_validator"
    return validate


# Module-level names, so migrations can refer to them.
minute_validator = _field_validator("minute")
hour_validator = _field_validator("hour")
day_of_week_validator = _field_validator("day_of_week")
day_of_month_validator = _field_validator("day_of_month")
month_of_year_validator = _field_validator("month_of_year")


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known timezone") from None


def aware(moment: Any) -> Any:
    """A naive datetime from the database as UTC (USE_TZ=False projects), else unchanged."""
    return (
        moment if moment is None or dj_timezone.is_aware(moment) else moment.replace(tzinfo=ZoneInfo("UTC"))
    )


class SolarSchedule(models.Model):
    """Run at a solar event at a place, e.g. sunrise in New York."""

    event = models.CharField(_("Solar Event"), max_length=24, choices=SOLAR_SCHEDULES)
    latitude = models.DecimalField(
        _("Latitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("Longitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )

    class Meta:
        db_table = "django_celery_beat_solarschedule"
        verbose_name, verbose_name_plural = _("solar event"), _("solar events")
        ordering = ("event", "latitude", "longitude")
        unique_together = ("event", "latitude", "longitude")

    @property
    def schedule(self) -> solar:
        return solar(self.event, float(self.latitude), float(self.longitude))

    @classmethod
    def from_schedule(cls, spec: solar) -> SolarSchedule:
        fields = {"event": spec.event, "latitude": spec.lat, "longitude": spec.lon}
        return cls.objects.filter(**fields).first() or cls(**fields)

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.latitude}, {self.longitude})"


class IntervalSchedule(models.Model):
    """Run every ``every`` ``period`` s, counted from the last run."""

    DAYS, HOURS, MINUTES, SECONDS, MICROSECONDS = DAYS, HOURS, MINUTES, SECONDS, MICROSECONDS
    PERIOD_CHOICES = PERIOD_CHOICES

    every = models.IntegerField(_("Number of Periods"), validators=[MinValueValidator(1)])
    period = models.CharField(_("Interval Period"), max_length=24, choices=PERIOD_CHOICES)

    class Meta:
        db_table = "django_celery_beat_intervalschedule"
        verbose_name, verbose_name_plural = _("interval"), _("intervals")
        ordering = ["period", "every"]

    @property
    def schedule(self) -> schedule:
        return schedule(timedelta(**{self.period: self.every}))

    @classmethod
    def from_schedule(cls, spec: schedule, period: str = SECONDS) -> IntervalSchedule:
        every = max(int(spec.run_every.total_seconds()), 0)
        return cls.objects.filter(every=every, period=period).first() or cls(every=every, period=period)

    def __str__(self) -> str:
        unit = self.period[:-1] if self.every == 1 else self.period
        return f"every {unit}" if self.every == 1 else f"every {self.every} {unit}"

    @property
    def period_singular(self) -> str:
        return self.period[:-1]


class ClockedSchedule(models.Model):
    """Run once, at ``clocked_time`` (with a one-off periodic task)."""

    clocked_time = models.DateTimeField(_("Clock Time"))

    class Meta:
        db_table = "django_celery_beat_clockedschedule"
        verbose_name, verbose_name_plural = _("clocked"), _("clocked")
        ordering = ["clocked_time"]

    @property
    def schedule(self) -> clocked:
        return clocked(aware(self.clocked_time))

    @classmethod
    def from_schedule(cls, spec: clocked) -> ClockedSchedule:
        return cls.objects.filter(clocked_time=spec.clocked_time).first() or cls(
            clocked_time=spec.clocked_time
        )

    def __str__(self) -> str:
        return str(self.clocked_time)


class CrontabSchedule(models.Model):
    """A crontab in its own timezone (fields as Celery's ``crontab``; Sunday is 0 or 7)."""

    minute = models.CharField(_("Minute(s)"), max_length=240, default="*", validators=[minute_validator])
    hour = models.CharField(_("Hour(s)"), max_length=96, default="*", validators=[hour_validator])
    day_of_month = models.CharField(
        _("Day(s) Of The Month"), max_length=124, default="*", validators=[day_of_month_validator]
    )
    month_of_year = models.CharField(
        _("Month(s) Of The Year"), max_length=64, default="*", validators=[month_of_year_validator]
    )
    day_of_week = models.CharField(
        _("Day(s) Of The Week"), max_length=64, default="*", validators=[day_of_week_validator]
    )
    timezone = models.CharField(
        _("Cron Timezone"),
        max_length=63,
        default=crontab_schedule_celery_timezone,
        validators=[validate_timezone],
    )

    class Meta:
        db_table = "django_celery_beat_crontabschedule"
        verbose_name, verbose_name_plural = _("crontab"), _("crontabs")
        ordering = ["month_of_year", "day_of_month", "day_of_week", "hour", "minute", "timezone"]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(str(self.timezone))

    @property
    def schedule(self) -> crontab:
        fields = (self.minute, self.hour, self.day_of_week, self.day_of_month, self.month_of_year)
        return TzAwareCrontab(*fields, tz=self.zone)

    @property
    def expression(self) -> str:
        """``minute hour day-of-month month day-of-week``."""
        return " ".join(
            cronexp(v)
            for v in (self.minute, self.hour, self.day_of_month, self.month_of_year, self.day_of_week)
        )

    @property
    def human_readable(self) -> str:
        """The crontab in words (cron-descriptor), with its timezone."""
        try:
            from cron_descriptor import get_description

            return f"{get_description(self.expression)} {self.timezone}"
        except Exception:  # an expression cron-descriptor cannot read is shown as it is
            return f"{self.expression} {self.timezone}"

    @classmethod
    def from_schedule(cls, spec: crontab) -> CrontabSchedule:
        zone = getattr(spec, "zone", None) or spec.tz
        names = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
        fields = {name: _cron_text(getattr(spec, f"_orig_{name}")) for name in names}
        fields["timezone"] = str(getattr(zone, "key", zone))
        return cls.objects.filter(**fields).first() or cls(**fields)

    def __str__(self) -> str:
        return f"{self.expression} (m/h/dM/MY/d) {self.timezone}"


def _cron_text(value: Any) -> str:
    """A crontab field as cron text: ``[0, 30]`` or ``range(0, 2)`` become ``0,30`` and ``0,1``."""
    if isinstance(value, (str, int)):
        return str(value)
    return ",".join(str(v) for v in sorted(value))


class PeriodicTasks(models.Model):
    """One row (``ident=1``) whose ``last_update`` moves on every change to the periodic tasks."""

    ident = models.SmallIntegerField(default=1, primary_key=True, unique=True)
    last_update = models.DateTimeField()

    class Meta:
        db_table = "django_celery_beat_periodictasks"
        verbose_name, verbose_name_plural = _("periodic task track"), _("periodic task tracks")

    @classmethod
    def changed(cls, instance: Any, **kwargs: Any) -> None:
        if not getattr(instance, "no_changes", False):
            cls.update_changed()

    @classmethod
    def update_changed(cls, **kwargs: Any) -> None:
        cls.objects.update_or_create(ident=1, defaults={"last_update": dj_timezone.now()})

    @classmethod
    def last_change(cls) -> Any:
        row = cls.objects.filter(ident=1).first()
        return row.last_update if row else None


class PeriodicTaskQuerySet(models.QuerySet):
    def enabled(self) -> PeriodicTaskQuerySet:
        return self.filter(enabled=True).prefetch_related("interval", "crontab", "solar", "clocked")


class PeriodicTask(models.Model):
    """A task to enqueue on one schedule (exactly one of interval, crontab, solar, clocked)."""

    name = models.CharField(_("Name"), max_length=200, unique=True)
    task = models.CharField("Task Name", max_length=200)
    interval = models.ForeignKey(
        IntervalSchedule, models.CASCADE, null=True, blank=True, verbose_name=_("Interval Schedule")
    )
    crontab = models.ForeignKey(
        CrontabSchedule, models.CASCADE, null=True, blank=True, verbose_name=_("Crontab Schedule")
    )
    solar = models.ForeignKey(
        SolarSchedule, models.CASCADE, null=True, blank=True, verbose_name=_("Solar Schedule")
    )
    clocked = models.ForeignKey(
        ClockedSchedule, models.CASCADE, null=True, blank=True, verbose_name=_("Clocked Schedule")
    )
    args = models.TextField(
        _("Positional Arguments"), blank=True, default="[]", help_text=_('JSON list, e.g. ["a", 1]')
    )
    kwargs = models.TextField(
        _("Keyword Arguments"), blank=True, default="{}", help_text=_('JSON object, e.g. {"a": 1}')
    )
    queue = models.CharField(_("Queue Override"), max_length=200, blank=True, null=True, default=None)
    exchange = models.CharField(_("Exchange"), max_length=200, blank=True, null=True, default=None)
    routing_key = models.CharField(_("Routing Key"), max_length=200, blank=True, null=True, default=None)
    headers = models.TextField(_("AMQP Message Headers"), blank=True, default="{}")
    priority = models.PositiveIntegerField(
        _("Priority"), default=None, validators=[MaxValueValidator(255)], blank=True, null=True
    )
    expires = models.DateTimeField(_("Expires Datetime"), blank=True, null=True)
    expire_seconds = models.PositiveIntegerField(_("Expires timedelta with seconds"), blank=True, null=True)
    one_off = models.BooleanField(_("One-off Task"), default=False)
    start_time = models.DateTimeField(_("Start Datetime"), blank=True, null=True)
    enabled = models.BooleanField(_("Enabled"), default=True)
    last_run_at = models.DateTimeField(_("Last Run Datetime"), editable=False, blank=True, null=True)
    total_run_count = models.PositiveIntegerField(_("Total Run Count"), default=0, editable=False)
    date_changed = models.DateTimeField(_("Last Modified"), auto_now=True)
    description = models.TextField(_("Description"), blank=True)

    objects = PeriodicTaskQuerySet.as_manager()
    no_changes = False

    class Meta:
        db_table = "django_celery_beat_periodictask"
        verbose_name, verbose_name_plural = _("periodic task"), _("periodic tasks")

    SCHEDULE_TYPES = ("interval", "crontab", "solar", "clocked")

    def validate_unique(self, *args: Any, **kwargs: Any) -> None:
        super().validate_unique(*args, **kwargs)
        chosen = [
            kind for kind in self.SCHEDULE_TYPES if getattr(self, f"{kind}_id", None) or getattr(self, kind)
        ]
        if not chosen:
            raise ValidationError("One of clocked, interval, crontab, or solar must be set.")
        if len(chosen) > 1:
            raise ValidationError(
                {kind: ["Only one of clocked, interval, crontab, or solar must be set"] for kind in chosen}
            )
        if self.clocked_id and not self.one_off:
            raise ValidationError("clocked must be one off, one_off must set True")

    def clean(self) -> None:
        for field in ("args", "kwargs", "headers"):
            try:
                value = json.loads(getattr(self, field) or ("[]" if field == "args" else "{}"))
            except ValueError as exc:
                raise ValidationError({field: f"not valid JSON: {exc}"}) from None
            if not isinstance(value, list if field == "args" else dict):
                raise ValidationError({field: f"must be a JSON {'list' if field == 'args' else 'object'}"})

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.exchange = self.exchange or None
        self.routing_key = self.routing_key or None
        self.queue = self.queue or None
        self.headers = self.headers or "{}"  # django-celery-beat writes None: NOT NULL fails on a blank form
        if not self.enabled:
            self.last_run_at = None
        if self.expire_seconds is not None and self.expires:
            raise ValidationError(_("Only one can be set, in expires and expire_seconds"))
        self.validate_unique()
        super().save(*args, **kwargs)
        PeriodicTasks.changed(self)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        result = super().delete(*args, **kwargs)
        PeriodicTasks.changed(self)
        return result

    @property
    def expires_(self) -> Any:
        return self.expires or self.expire_seconds

    @property
    def scheduler(self) -> Any:
        """The schedule row in use."""
        return next((getattr(self, kind) for kind in self.SCHEDULE_TYPES if getattr(self, kind)), None)

    @property
    def schedule(self) -> Any:
        return self.scheduler.schedule

    def __str__(self) -> str:
        return f"{self.name}: {self.scheduler or '{no schedule}'}"


def get_or_create_schedule(spec: Any) -> tuple[str, models.Model]:
    """The schedule row for a ``compat.schedules`` object (saved), and the field naming it."""
    for kind, kinds, model in (
        ("crontab", crontab, CrontabSchedule),
        ("interval", schedule, IntervalSchedule),
        ("solar", solar, SolarSchedule),
        ("clocked", clocked, ClockedSchedule),
    ):
        if isinstance(spec, kinds):
            row = model.from_schedule(spec)
            if row.pk is None:
                row.save()
            return kind, row
    raise ValueError(f"Cannot convert schedule type {spec!r} to model")

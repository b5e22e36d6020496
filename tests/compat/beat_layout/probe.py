"""``python -m tests.compat.beat_layout.probe ACTION [ARG]``: one step in the configured project, as JSON.

Actions: ``migrate [APP TARGET]``, ``columns`` (the six tables' columns and constraints), ``create PREFIX``
(rows of every kind through the installed app's models), ``read`` (every periodic task, as plain values).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal

import django

TABLES = [
    f"django_celery_beat_{name}"
    for name in (
        "periodictask",
        "intervalschedule",
        "crontabschedule",
        "solarschedule",
        "clockedschedule",
        "periodictasks",
    )
]


def models():
    from django.apps import apps

    label = "django_celery_beat" if apps.is_installed("django_celery_beat") else "compat_beat"
    return lambda name: apps.get_model(label, name)


def columns() -> dict:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            if table not in connection.introspection.table_names(cursor):
                continue
            cols = {}
            for col in connection.introspection.get_table_description(cursor, table):
                kind = connection.introspection.get_field_type(col.type_code, col)
                cols[col.name] = [kind, bool(col.null_ok), col.internal_size if "Char" in kind else None]
            constraints = sorted(
                [sorted(c["columns"]), bool(c["unique"]), bool(c["primary_key"]), c["foreign_key"]]
                for c in connection.introspection.get_constraints(cursor, table).values()
                if c["unique"] or c["primary_key"] or c["foreign_key"]
            )
            out[table] = {"columns": cols, "constraints": constraints}
    return out


def create(prefix: str) -> dict:
    model = models()
    interval = model("IntervalSchedule").objects.create(every=2, period="seconds")
    cron = model("CrontabSchedule").objects.create(
        minute="*/5", hour="8-17", day_of_week="1-5", timezone="America/New_York"
    )
    solars = model("SolarSchedule").objects
    solar = solars.filter(event="sunset").first() or solars.create(
        event="sunset", latitude=Decimal("52.52"), longitude=Decimal("13.405")
    )
    clock = model("ClockedSchedule").objects.create(clocked_time=datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    task = model("PeriodicTask").objects
    task.create(
        name=f"{prefix}-interval",
        task="proj.tasks.tick",
        interval=interval,
        args='[1, "a"]',
        kwargs='{"k": true}',
        queue="q1",
        priority=5,
        headers='{"h": "v"}',
        expire_seconds=30,
    )
    task.create(
        name=f"{prefix}-crontab",
        task="proj.tasks.report",
        crontab=cron,
        description="weekday report",
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        expires=datetime(2031, 1, 1, tzinfo=UTC),
    )
    task.create(name=f"{prefix}-solar", task="proj.tasks.lights", solar=solar, enabled=False)
    task.create(
        name=f"{prefix}-clocked", task="proj.tasks.delete_account", clocked=clock, one_off=True, args="[42]"
    )
    return {"created": 4}


def read() -> list:
    model = models()
    rows = []
    for t in model("PeriodicTask").objects.order_by("name"):
        sched = t.interval or t.crontab or t.solar or t.clocked
        kind = type(sched).__name__
        detail = {
            "IntervalSchedule": lambda s: [s.every, s.period],
            "CrontabSchedule": lambda s: [
                s.minute,
                s.hour,
                s.day_of_month,
                s.month_of_year,
                s.day_of_week,
                str(s.timezone),
            ],
            "SolarSchedule": lambda s: [s.event, str(s.latitude), str(s.longitude)],
            "ClockedSchedule": lambda s: [s.clocked_time.isoformat()],
        }[kind](sched)
        rows.append(
            {
                "name": t.name,
                "task": t.task,
                "kind": kind,
                "schedule": detail,
                "args": json.loads(t.args),
                "kwargs": json.loads(t.kwargs),
                "queue": t.queue,
                "priority": t.priority,
                "headers": json.loads(t.headers or "{}"),
                "expires": t.expires and t.expires.isoformat(),
                "expire_seconds": t.expire_seconds,
                "one_off": t.one_off,
                "enabled": t.enabled,
                "start_time": t.start_time and t.start_time.isoformat(),
                "description": t.description,
                "total_run_count": t.total_run_count,
                "last_run_at": t.last_run_at and t.last_run_at.isoformat(),
            }
        )
    return rows


def fire(redis_url: str, namespace: str) -> dict:
    """Our daemon (one, leading) over the rows: every due row fired once; messages counted in Redis."""
    import redis

    from compat import Celery
    from scheduler.daemon import Daemon
    from scheduler.database import DatabaseSource

    app = Celery("layout", broker=redis_url, backend=redis_url, broker_namespace=namespace)
    client = redis.Redis.from_url(redis_url)
    source = DatabaseSource(app)
    daemon = Daemon([], app.send_task, client, UTC, f"{namespace}:sched", 30, sources=[source])
    assert daemon.lease.acquire()
    fired = sorted(name for name in daemon.entries if daemon.fire_is_due(name))
    daemon.catch_up()
    stored = [
        json.loads(v) for key in client.scan_iter(f"{namespace}:*.msgs") for v in client.hgetall(key).values()
    ]
    return {
        "loaded": sorted(daemon.entries),
        "fired": fired,
        "messages": sorted(m["options"]["headers"]["periodic_task_name"] for m in stored),
    }


def main() -> None:
    django.setup()
    action, args = sys.argv[1], sys.argv[2:]
    if action == "migrate":
        from django.core.management import call_command

        call_command("migrate", *args, verbosity=0)
        result = {"migrated": True}
    else:
        result = {"columns": columns, "create": create, "read": read, "fire": fire}[action](*args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Command line: ``python -m scheduler --app module:app [--list] [--redis-url ...] [--lease-ttl ...]``.

The functions here are also what the Django management command calls, so both entry points
load entries, pick the timezone and build the daemon the same way; `run` sends Celery's `beat_init`
(sender: the daemon, with `.app`) once before the daemon starts firing.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import redis

from compat import signals
from compat.config import DATABASE_SCHEDULERS
from compat.exceptions import ImproperlyConfigured
from compat.stores import is_redis_url, redis_for

from .daemon import Daemon
from .sources import DEFAULT_GRACE, Entry, ScheduleError, actor_entries, app_actors, beat_entries, merge
from .triggers import build_trigger, describe, next_fire_times

#: Celery's default (a shelve file); our Redis ledger plays its part, so it means "settings schedules".
DEFAULT_SCHEDULERS = frozenset({"", "celery.beat:PersistentScheduler", "celery.beat.PersistentScheduler"})


def load_app(path: str) -> Any:
    """Import ``module:attribute`` (attribute defaults to ``app``)."""
    module_name, _, attr = path.partition(":")
    obj = importlib.import_module(module_name)
    for part in (attr or "app").split("."):
        obj = getattr(obj, part)
    return obj


def app_timezone(app: Any, fallback: str | None = None) -> tzinfo:
    """The app's ``timezone`` setting (then ``fallback``, then UTC) as a tzinfo."""
    name = getattr(getattr(app, "conf", None), "timezone", None) or fallback
    if not name:
        return UTC
    if isinstance(name, tzinfo):
        return name
    return ZoneInfo(str(name))


def list_entries(entries: Sequence[Entry], tz: tzinfo, out: TextIO, now: datetime | None = None) -> None:
    """Print each entry with its trigger and next three run times."""
    now = now or datetime.now(UTC)
    if not entries:
        out.write("no schedule entries\n")
    for entry in entries:
        trigger = build_trigger(entry.schedule, tz)
        runs = ", ".join(t.astimezone(tz).isoformat() for t in next_fire_times(trigger, now, 3))
        policy = f"grace={entry.policy.grace}s coalesce={entry.policy.coalesce}"
        head = f"{entry.name}: task={entry.task} trigger={describe(trigger)}"
        out.write(f"{head} ({entry.source}, {policy})\n    next: {runs}\n")


def build_daemon(
    app: Any,
    entries: Sequence[Entry],
    *,
    redis_url: str | None = None,
    lease_ttl: float = 15.0,
    key_prefix: str | None = None,
    tz: tzinfo | None = None,
    enqueue: Any = None,
    sources: Sequence[Any] = (),
) -> Daemon:
    """A ``Daemon`` for ``app``: its lease in the Redis of ``redis_url``, else of the app's ``broker_url``
    when that is Redis, else of its result backend (an ``amqp://`` broker keeps no Redis)."""
    url = redis_url or getattr(app.conf, "broker_url", None)
    client = None
    if url and not is_redis_url(url) and not redis_url:
        client = redis_for(app)
        if client is None:
            raise ScheduleError(
                f"no Redis for the leader lease: the broker is {str(url).split('://')[0]}://; "
                "pass --redis-url or set a redis:// result backend"
            )
    elif not url:
        raise ScheduleError("no Redis URL: pass --redis-url or set the app's broker_url")
    prefix = key_prefix or f"scheduler:{getattr(app, 'main', None) or 'default'}"
    return Daemon(
        entries,
        enqueue or app.send_task,
        client if client is not None else redis.Redis.from_url(url),
        tz or app_timezone(app),
        prefix,
        lease_ttl=lease_ttl,
        sources=sources,
    )


def load_entries(
    app: Any, options: argparse.Namespace, extra: Sequence[Entry] = ()
) -> tuple[list[Entry], list[Any]]:
    """The static entries and the dynamic sources ``beat_scheduler`` (or ``--scheduler``) selects."""
    grace = options.misfire_grace_time
    settings = beat_entries(getattr(app.conf, "beat_schedule", None), grace)
    actors = actor_entries(app_actors(app), grace)
    chosen = getattr(options, "scheduler", None) or app.conf.get("beat_scheduler") or ""
    if chosen in DATABASE_SCHEDULERS:
        from .database import DatabaseSource

        source = DatabaseSource(app, {e.name: e.policy for e in settings}, grace)
        static = merge(source.sync(settings), actors, extra)
        source.refresh()
        return static, [source]
    if chosen not in DEFAULT_SCHEDULERS:
        raise ScheduleError(
            f"unknown beat_scheduler {chosen!r}: use 'django_celery_beat.schedulers:DatabaseScheduler' "
            "for the database rows, or leave it unset for CELERY_BEAT_SCHEDULE"
        )
    return merge(settings, actors, extra), []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``python -m scheduler`` and ``manage.py scheduler``."""
    parser.add_argument("--list", action="store_true", help="print entries with their next 3 runs and exit")
    parser.add_argument("--redis-url", help="Redis for the lease and run ledger (default: the broker URL)")
    parser.add_argument("--lease-ttl", type=float, default=15.0, help="leader lease seconds (default 15)")
    parser.add_argument("--key-prefix", help="Redis key prefix (default scheduler:<app main name>)")
    parser.add_argument(
        "-S",
        "--scheduler",
        help="beat_scheduler, e.g. django_celery_beat.schedulers:DatabaseScheduler (default: the setting)",
    )
    parser.add_argument(
        "--misfire-grace-time",
        type=float,
        default=DEFAULT_GRACE,
        help="default grace in seconds for entries without their own (default 60)",
    )


def run(
    app: Any,
    options: argparse.Namespace,
    extra: Sequence[Entry] = (),
    out: TextIO = sys.stdout,
    tz: tzinfo | None = None,
) -> int:
    """Load and validate entries, then list them or run the daemon; returns an exit code."""
    entries, sources = load_entries(app, options, extra)
    tz = tz or app_timezone(app)
    if options.list:
        list_entries([*entries, *(e for s in sources for e in s.entries)], tz, out)
        return 0
    daemon = build_daemon(
        app,
        entries,
        sources=sources,
        redis_url=options.redis_url,
        lease_ttl=options.lease_ttl,
        key_prefix=options.key_prefix,
        tz=tz,
    )
    daemon.app = app  # what Celery's beat_init receivers read from their sender (the beat service)
    signals.beat_init.send(sender=daemon)  # as Celery's beat, once, before the first tick
    daemon.run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scheduler``."""
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, help="the compat app, as module:attribute")
    parser.add_argument("--log-level", default="INFO")
    add_arguments(parser)
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=options.log_level.upper(), format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run(load_app(options.app), options)
    except (ScheduleError, ImproperlyConfigured) as exc:
        print(f"scheduler: {exc}", file=sys.stderr)
        return 2

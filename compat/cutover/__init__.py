"""``python -m compat import-celery``: move what Celery's Redis transport still holds into compat's queues.

Stop the Celery workers first (a running one would run again what it holds unacknowledged), then::

    python -m compat import-celery --app proj.celery:app --from redis://old-broker:6379/0 [--dry-run]

Queued messages of every queue and priority lane, and the unacknowledged and countdown/ETA messages of
kombu's ``unacked`` hash, are sent to the app's broker with their task ids, arguments, ETA, expiry,
priority and retries; what compat cannot carry (pickle bodies, unknown tasks, chord members) goes to the
dead-letter store with the reason. Running it again moves nothing twice. See ``importer``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..exceptions import OperationalError
from .importer import Importer, Outcome
from .kombu_redis import PRIORITY_STEPS, SEP, CeleryRedis, redis_errors

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser, app_required: bool = True) -> None:
    if app_required:
        parser.add_argument(
            "--app", required=True, metavar="MODULE:APP", help="the compat app to import into"
        )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="Celery's broker URL (redis://host:port/db)",
    )
    parser.add_argument(
        "--queue",
        dest="queues",
        action="append",
        default=[],
        metavar="NAME",
        help="a queue to empty (repeatable; default: every queue in kombu's bindings, and 'celery')",
    )
    parser.add_argument(
        "--rename-queue",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="send OLD's messages to compat queue NEW (repeatable)",
    )
    parser.add_argument(
        "--send-unregistered",
        action="store_true",
        help="send tasks the app does not know by name instead of dead-lettering them",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would move, move nothing")
    parser.add_argument("--force", action="store_true", help="import even if Celery workers seem connected")
    parser.add_argument("--batch", type=int, default=100, help="messages taken per script call (100)")
    parser.add_argument(
        "--key-prefix", default=None, help="kombu's global_keyprefix transport option (default: the app's)"
    )
    parser.add_argument(
        "--sep", default=None, help="kombu's priority separator (default: the app's sep transport option)"
    )
    parser.add_argument(
        "--priority-steps",
        default=None,
        help="kombu's priority_steps transport option (default: the app's, else 0,3,6,9)",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(options: argparse.Namespace, app: Any | None = None, out=None, err=None) -> int:
    """Import; exit status 0 (all moved), 1 (some dead-lettered), 2 (bad input, nothing moved)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        app = app or _load_app(options.app)
        rename = dict(_pair(item) for item in options.rename_queue)
        prefix, sep, steps = transport_layout(app, options)
        if options.batch < 1:
            raise ValueError("--batch must be at least 1")
        source = CeleryRedis(options.source, prefix=prefix, sep=sep, priority_steps=steps)
        source.ping()
    except Exception as exc:  # bad input of any kind: say what, change nothing
        err.write(f"import-celery: error: {exc}\n")
        return 2
    try:
        if not options.force and not options.dry_run and source.pattern_subscribers():
            err.write(
                f"import-celery: error: Celery workers seem to be connected to {options.source} (the server "
                "has pattern subscriptions, as kombu's remote control and events use): stop them first, or "
                "what they hold unacknowledged would run twice; --force imports anyway\n"
            )
            return 2
        queues = sorted(
            set(options.queues) | ({"celery", *source.bound_queues()} if not options.queues else set())
        )
        progress = (lambda done, total: None) if options.no_progress else _bar(err)
        importer = Importer(app, source, queues, rename, options.send_unregistered, options.batch, progress)
        outcome = importer.dry_run() if options.dry_run else importer.run()
    except (ValueError, OperationalError, redis_errors()) as exc:
        err.write(f"import-celery: error: {exc} (what was moved stays moved; run it again to finish)\n")
        return 2
    finally:
        source.close()
    if not options.no_progress and outcome.total:
        err.write("\n")
    out.write(_report(outcome, options, queues) + "\n")
    return 1 if outcome.dead else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compat import-celery", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def transport_layout(app: Any, options: argparse.Namespace) -> tuple[str, str, tuple[int, ...]]:
    """Celery's key prefix, priority separator and steps: the flags, else the app's
    ``broker_transport_options`` (``global_keyprefix``, ``sep``, ``priority_steps``), else kombu's."""
    transport = app.conf.get("broker_transport_options") or {}
    prefix = options.key_prefix if options.key_prefix is not None else transport.get("global_keyprefix", "")
    sep = options.sep if options.sep is not None else transport.get("sep", SEP)
    if options.priority_steps is not None:
        steps = tuple(int(step) for step in options.priority_steps.split(","))
    else:
        steps = tuple(int(step) for step in transport.get("priority_steps", PRIORITY_STEPS))
    return str(prefix or ""), str(sep), steps


def _load_app(path: str) -> Any:
    from ..config import load_object

    if ":" not in path:
        raise ValueError(f"--app {path!r}: give it as module:attribute (proj.celery:app)")
    return load_object(path)


def _pair(item: str) -> tuple[str, str]:
    old, sep, new = item.partition("=")
    if not sep or not old or not new:
        raise ValueError(f"--rename-queue {item!r}: give it as OLD=NEW")
    return old, new


def _bar(stream):
    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        stream.flush()

    return show


def _report(outcome: Outcome, options: argparse.Namespace, queues: list[str]) -> str:
    verb = "would move" if options.dry_run else "moved"
    if options.json:
        return json.dumps(
            {
                "dry_run": options.dry_run,
                "queues": queues,
                "moved": dict(outcome.moved),
                "from_unacked": outcome.from_unacked,
                "dead_lettered": outcome.dead,
                "already_moved": outcome.already_moved,
                "unconsumed_queues": sorted(outcome.unconsumed_queues),
            },
            indent=2,
        )
    moved = sum(outcome.moved.values())
    by_queue = ", ".join(f"{queue} {count}" for queue, count in sorted(outcome.moved.items()) if count)
    lines = [
        f"{verb} {moved} message{'s' if moved != 1 else ''}"
        + (f" ({by_queue}; {outcome.from_unacked} unacknowledged or countdown/ETA)" if moved else "")
    ]
    if outcome.dead:
        lines.append(
            f"{'would dead-letter' if options.dry_run else 'dead-lettered'} {len(outcome.dead)} "
            "(see python manage.py deadletters list, or compat.deadletters):"
        )
        lines += [
            f"  {d['id'] or '?'} {d['task'] or '?'} [{d['queue']}]: {d['reason']}" for d in outcome.dead
        ]
    if outcome.already_moved:
        lines.append(f"skipped {outcome.already_moved} already moved by an earlier run")
    for queue in sorted(outcome.unconsumed_queues):
        lines.append(
            f"note: the app's workers do not consume {queue!r} by default: route a task to it, "
            f"start workers with -Q {queue}, or pass --rename-queue {queue}=<queue>"
        )
    return "\n".join(lines)

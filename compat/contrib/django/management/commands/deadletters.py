"""``python manage.py deadletters list|show|requeue|purge``: act on tasks that failed for good."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from compat.app import get_current_app
from compat.deadletters import store_for

from ...deadletters import requeue_many


def _store():
    store = store_for(get_current_app())
    if store is None:
        raise CommandError("no Redis keeps dead letters here: neither result_backend nor broker_url is Redis")
    return store


def _progress(done: int, total: int, out) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    out.flush()


class Command(BaseCommand):
    help = "List, show, requeue or purge dead letters (tasks that failed for good)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="newest first")
        listing.add_argument("--task")
        listing.add_argument("--queue")
        listing.add_argument("--offset", type=int, default=0)
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="one dead letter in full, with its traceback")
        show.add_argument("task_id")
        requeue = sub.add_parser("requeue", help="send dead tasks again (original id, fresh retries)")
        requeue.add_argument("task_ids", nargs="*")
        requeue.add_argument("--task")
        requeue.add_argument("--queue")
        requeue.add_argument("--all", action="store_true")
        purge = sub.add_parser("purge", help="delete dead letters")
        purge.add_argument("--task")
        purge.add_argument("--queue")
        purge.add_argument("--all", action="store_true")
        purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, **options):
        getattr(self, "do_" + options["action"])(_store(), options)

    def do_list(self, store, options):
        records = store.list(options["task"], options["queue"], options["offset"], options["limit"])
        if options["json"]:
            self.stdout.write(json.dumps(records, default=str, indent=2))
            return
        self.stdout.write(f"{store.count()} dead letter(s)")
        for record in records:
            self.stdout.write(
                f"{record['failed_at']}  {record['id']}  {record['task']}  "
                f"[{record['queue']}]  {record['reason']}: {record.get('exception_repr')}"
            )

    def do_show(self, store, options):
        record = store.get(options["task_id"])
        if record is None:
            raise CommandError(f"no dead letter with id {options['task_id']}")
        traceback = record.pop("traceback", None)
        record.pop("message", None)
        self.stdout.write(json.dumps(record, default=str, indent=2))
        if traceback:
            self.stdout.write(traceback)

    def _selected(self, store, options) -> list[str]:
        if options.get("task_ids"):
            return list(options["task_ids"])
        if not (options["all"] or options["task"] or options["queue"]):
            raise CommandError("name task ids, or select with --task/--queue, or pass --all")
        return [record["id"] for record in store.iter(options["task"], options["queue"])]

    def do_requeue(self, store, options):
        """Requeue what can be; each record that cannot be is named on stderr (one line) and kept."""
        ids = self._selected(store, options)
        done, failed = requeue_many(
            store, ids, get_current_app(), progress=lambda n, total: _progress(n, total, self.stdout)
        )
        self.stdout.write(f"\nrequeued {len(done)} task(s)")
        for failure in failed:
            self.stderr.write(f"error: dead letter {failure['id']}: {failure['error']}")
        if failed:
            raise CommandError(f"{len(failed)} of {len(ids)} dead letter(s) not requeued (see above)")

    def do_purge(self, store, options):
        if not (options["all"] or options["task"] or options["queue"]):
            raise CommandError("select with --task/--queue, or pass --all")
        selection = (
            "all dead letters"
            if options["all"]
            else f"dead letters of {options['task'] or ''}"
            f"{' queue ' + options['queue'] if options['queue'] else ''}"
        )
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("refusing to purge without --yes when not on a terminal")
            if input(f"Delete {selection}? [y/N] ").strip().lower() not in ("y", "yes"):
                self.stdout.write("nothing deleted")
                return
        count = store.purge(
            None if options["all"] else options["task"], None if options["all"] else options["queue"]
        )
        self.stdout.write(f"purged {count} dead letter(s)")

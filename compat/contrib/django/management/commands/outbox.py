"""``python manage.py outbox status|relay``: the transactional outbox's backlog, and a relay process."""

from __future__ import annotations

import json
import signal

from django.core.management.base import BaseCommand

from compat.contrib.django import outbox
from compat.contrib.django.relay import Relay


class Command(BaseCommand):
    help = "Show the outbox's backlog (status) or relay waiting events to the broker (relay)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="waiting events, the oldest one's age, failing ones")
        status.add_argument("--json", action="store_true")
        relay = sub.add_parser("relay", help="send waiting events until stopped (SIGTERM/SIGINT)")
        relay.add_argument("--once", action="store_true", help="send what is due now, then exit")
        relay.add_argument("--interval", type=float, help="seconds between polls (default: the setting)")
        relay.add_argument("--batch", type=int, default=100)

    def handle(self, *args, **options):
        getattr(self, "do_" + options["action"])(options)

    def do_status(self, options):
        report = outbox.status()
        if options["json"]:
            self.stdout.write(json.dumps(report, default=str, indent=2))
            return
        age = report["oldest_age_seconds"]
        self.stdout.write(
            f"{report['waiting']} waiting event(s)"
            + (f", the oldest {age:.1f} s old" if age is not None else "")
            + f"; {report['failing']} failing; {report['delivered_kept']} delivered (kept to spot duplicates)"
        )
        for error in report["errors"]:
            self.stdout.write(
                f"  {error['id']} {error['kind']} attempts={error['attempts']}: {error['last_error']}"
            )

    def do_relay(self, options):
        relay = Relay(options["interval"], options["batch"])
        if options["once"]:
            total = 0
            while True:
                outcome = relay.step()
                total += outcome.sent
                if not outcome.taken or outcome.unavailable is not None:
                    break
            note = f"; not all: {outcome.unavailable}" if outcome.unavailable else ""
            self.stdout.write(f"sent {total} event(s){note}")
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: relay.stopping.set())
        self.stdout.write(f"Relaying the outbox every {relay.interval:.1f} s")
        self.stdout.flush()
        relay.run()

"""The transactional outbox: an event is written in the transaction of the change it follows, and sent
once that transaction has committed; if the broker cannot take it then, a relay sends it later.

``add(kind, payload)`` inserts an :class:`~compat.contrib.django.models.OutboxEntry` in the current
transaction, so the event commits or rolls back with the rows it describes. After commit the same
process delivers it at once (the usual path: one send and one ``UPDATE``); a rolled-back transaction
leaves nothing. An entry whose delivery failed (the broker is down) or whose process died before
delivering it is sent by a relay (``relay_once``; see ``relay.py``) as soon as the broker is back.

Every entry is delivered at least once: a process can die between sending and recording that it sent,
and the entry is then sent again. So every kind's ``deliver`` must be idempotent per entry id. Tasks are
(``task.py`` puts the entry id and a per-send token in a header; the worker runs only the first copy it
claims, see ``middleware.OutboxDedupe``); other kinds register their own ``deliver`` with ``register``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Min, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from compat import serialization
from compat.exceptions import OperationalError

log = logging.getLogger("compat.outbox")

#: Seconds a new entry is left to the process that committed it before a relay may send it.
GRACE = 10.0
#: Seconds a relay owns the entries it took; after a relay's crash another one sends them.
LEASE = 30.0
#: Longest wait between two attempts of an entry whose delivery raised something else than an outage.
BACKOFF_MAX = 300.0
#: A delivered task entry that no worker has claimed yet is kept this long (then it is deleted).
UNCLAIMED_RETENTION = timedelta(days=7)
#: Errors that mean "the broker is unavailable": the relay stops its batch and retries at its next poll.
#: ``send_task`` turns the broker's own connection errors into ``OperationalError``; a delivery function
#: registered with ``register`` raises ``OperationalError`` when what it delivers to is down.
UNAVAILABLE: tuple[type[BaseException], ...] = (OperationalError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class Kind:
    """How entries of one kind are delivered, and whether their rows stay after delivery (for dedupe)."""

    deliver: Callable[[str, Any], None]
    keep: bool = False


_kinds: dict[str, Kind] = {}


def register(kind: str, deliver: Callable[[str, Any], None], *, keep: bool = False) -> None:
    """Deliver entries of ``kind`` with ``deliver(entry_id, payload)`` (idempotent per ``entry_id``).

    ``keep``: keep the row after delivery until a worker claims it (``claim_run``) or it expires.
    ``deliver`` raises ``compat.exceptions.OperationalError`` when its destination is down, so the entry
    waits for a relay without counting as a failed attempt. Register in ``AppConfig.ready`` so that
    every process that relays knows the kind.
    """
    _kinds[kind] = Kind(deliver, keep)


def handler(kind: str, *, keep: bool = False) -> Callable[[Callable[[str, Any], None]], Callable]:
    """Decorator form of :func:`register`."""

    def decorate(deliver: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        register(kind, deliver, keep=keep)
        return deliver

    return decorate


@dataclass(frozen=True)
class Pending:
    """An entry on its way: its id, kind, stored payload (JSON form) and attempts so far."""

    id: str
    kind: str
    payload: Any
    attempts: int = 0


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data (compat's envelopes for dates, Decimals, UUIDs), or EncodeError."""
    return json.loads(serialization.dumps(value))


def from_json(data: Any) -> Any:
    """The value :func:`to_json` stored."""
    return serialization.loads(json.dumps(data))


def _model():
    from .models import OutboxEntry

    return OutboxEntry


# --- writing -------------------------------------------------------------------------------------------


def add(kind: str, payload: Any, *, using: str | None = None) -> str:
    """Store ``payload`` in the current transaction and deliver it once that commits; the entry's id.

    Raises ``LookupError`` for an unregistered kind and ``EncodeError`` for a payload JSON cannot carry,
    before anything is written.
    """
    if kind not in _kinds:
        raise LookupError(f"outbox kind {kind!r} is not registered (known: {', '.join(sorted(_kinds))})")
    stored = to_json(payload)
    entry = _model().objects.using(using).create(
        kind=kind, payload=stored, due_at=timezone.now() + timedelta(seconds=GRACE)
    )
    pending = Pending(str(entry.pk), kind, stored)
    transaction.on_commit(lambda: deliver_now(pending, using=using), using=using)
    return pending.id


class _OutageLog:
    """The first commit-time delivery that meets an outage logs a warning, the rest of it DEBUG lines."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, entry: Pending, exc: BaseException) -> None:
        if self.down:
            log.debug("outbox: %s %s waits for a relay (%s)", entry.kind, entry.id, _describe(exc))
            return
        self.down = True
        log.warning(
            "outbox: %s %s waits for a relay (%s); events wait in the outbox until the broker is back "
            "(further ones are logged at DEBUG)",
            entry.kind,
            entry.id,
            _describe(exc),
        )

    def delivered(self) -> None:
        if self.down:
            self.down = False
            log.warning("outbox: delivering at commit again")


_outage = _OutageLog()


def deliver_now(entry: Pending, *, using: str | None = None) -> bool:
    """Deliver a just-committed entry; on failure leave it due for a relay. True if it was delivered.

    Never raises: the change it follows has committed, and the request that made it must not fail now.
    """
    try:
        _deliver(entry)
    except Exception as exc:
        if isinstance(exc, UNAVAILABLE):
            _outage.failed(entry, exc)
        else:
            log.exception("outbox: delivering %s %s failed; a relay will retry it", entry.kind, entry.id)
        _guarded(_reschedule, [entry.id], exc, timezone.now(), attempted=True, using=using)
        return False
    _outage.delivered()
    _guarded(_mark_delivered, [entry], using=using)
    return True


def _guarded(step: Callable, *args: Any, **kwargs: Any) -> None:
    """Run a bookkeeping step; if the database refuses it, the entry is simply sent again later."""
    try:
        step(*args, **kwargs)
    except Exception:
        log.exception("outbox: could not record a delivery outcome; the entry will be sent again")


def _deliver(entry: Pending) -> None:
    kind = _kinds.get(entry.kind)
    if kind is None:
        raise LookupError(f"outbox kind {entry.kind!r} is not registered in this process")
    kind.deliver(entry.id, from_json(entry.payload))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# --- bookkeeping ---------------------------------------------------------------------------------------


def _mark_delivered(entries: Iterable[Pending], *, using: str | None = None) -> None:
    """Delete delivered rows, or (kinds that ``keep``) mark them sent, to expire later."""
    entries = list(entries)
    keep = [e.id for e in entries if _kinds[e.kind].keep]
    drop = [e.id for e in entries if not _kinds[e.kind].keep]
    manager = _model().objects.using(using)
    if drop:
        manager.filter(pk__in=drop).delete()
    if keep:
        now = timezone.now()
        manager.filter(pk__in=keep).update(
            due_at=None,
            sent_at=now,
            last_error="",
            expires_at=Coalesce(F("expires_at"), Value(now + UNCLAIMED_RETENTION)),
        )


def _reschedule(
    ids: list[str], exc: BaseException, at, *, attempted: bool = False, using: str | None = None
) -> None:
    """Make undelivered entries due again at ``at`` (never one that was delivered meanwhile)."""
    changes: dict[str, Any] = {"due_at": at, "last_error": _describe(exc)}
    if attempted:
        changes["attempts"] = F("attempts") + 1
    _model().objects.using(using).filter(pk__in=ids, due_at__isnull=False).update(**changes)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt of an entry whose delivery failed ``attempts`` times (not outages)."""
    return min(BACKOFF_MAX, 2.0 ** max(0, attempts - 1))


# --- relaying ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayOutcome:
    """What one ``relay_once`` did."""

    sent: int = 0
    failed: int = 0
    unavailable: str | None = None  # the outage error, if the broker could not be reached
    taken: int = 0


def take_due(batch: int, *, using: str | None = None) -> list[Pending]:
    """Lease up to ``batch`` due entries (oldest first) to this relay for ``LEASE`` seconds.

    On PostgreSQL rows another relay is taking are skipped (``FOR UPDATE SKIP LOCKED``); where that is not
    available two relays may take the same entry, which only sends it twice (and deliveries are idempotent).
    """
    model = _model()
    now = timezone.now()
    with transaction.atomic(using=using):
        rows = list(
            model.objects.using(using)
            .select_for_update(skip_locked=True)
            .filter(due_at__lte=now)
            .order_by("due_at")
            .only("id", "kind", "payload", "attempts")[:batch]
        )
        if rows:
            model.objects.using(using).filter(pk__in=[row.pk for row in rows]).update(
                due_at=now + timedelta(seconds=LEASE), attempts=F("attempts") + 1
            )
    return [Pending(str(row.pk), row.kind, row.payload, row.attempts + 1) for row in rows]


def relay_once(batch: int = 100, *, using: str | None = None) -> RelayOutcome:
    """Deliver up to ``batch`` due entries. An outage stops the batch; the rest is due again at once."""
    entries = take_due(batch, using=using)
    delivered: list[Pending] = []
    failed: list[tuple[Pending, BaseException]] = []
    outage: BaseException | None = None
    untried: list[Pending] = []
    for index, entry in enumerate(entries):
        try:
            _deliver(entry)
        except UNAVAILABLE as exc:
            outage, untried = exc, entries[index:]
            break
        except Exception as exc:
            log.error("outbox: delivering %s %s failed (attempt %d): %s", entry.kind, entry.id,
                      entry.attempts, _describe(exc))
            failed.append((entry, exc))
        else:
            delivered.append(entry)
    _mark_delivered(delivered, using=using)
    now = timezone.now()
    for entry, exc in failed:
        _reschedule([entry.id], exc, now + timedelta(seconds=backoff(entry.attempts)), using=using)
    if outage is not None:
        _reschedule([e.id for e in untried], outage, now, using=using)
    return RelayOutcome(
        sent=len(delivered),
        failed=len(failed) + len(untried),
        unavailable=_describe(outage) if outage is not None else None,
        taken=len(entries),
    )


def purge(*, using: str | None = None) -> int:
    """Delete delivered entries past ``expires_at``; how many."""
    return _model().objects.using(using).filter(expires_at__lt=timezone.now()).delete()[0]


# --- the worker side -----------------------------------------------------------------------------------


def retention() -> float:
    """Seconds a claimed task entry is kept to recognise late duplicates (``CELERY_OUTBOX_RETENTION``)."""
    from compat.app import get_current_app

    return float(get_current_app().conf.get("outbox_retention", 3600))


def claim_run(entry_id: str, token: str, *, using: str | None = None) -> bool:
    """Whether the copy of entry ``entry_id`` sent with ``token`` may run (the first copy claimed wins).

    The same copy delivered again (a worker died mid-task, a retry) carries the same token and runs
    again, as at-least-once requires; a second *send* carries another token and is refused. An entry
    that is gone (expired, or never in this database) cannot be checked and runs.
    """
    manager = _model().objects.using(using)
    expires = timezone.now() + timedelta(seconds=retention())
    if manager.filter(pk=entry_id).filter(Q(run_token="") | Q(run_token=token)).update(
        run_token=token, expires_at=expires
    ):
        return True
    return not manager.filter(pk=entry_id).exists()


# --- status --------------------------------------------------------------------------------------------


def status(*, using: str | None = None) -> dict[str, Any]:
    """Counts for operators: waiting entries, the oldest one's age, failing ones, delivered ones kept."""
    manager = _model().objects.using(using)
    waiting = manager.filter(due_at__isnull=False)
    oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    failing = waiting.exclude(last_error="")
    return {
        "waiting": waiting.count(),
        "oldest_age_seconds": round((timezone.now() - oldest).total_seconds(), 1) if oldest else None,
        "failing": failing.count(),
        "errors": list(failing.order_by("-attempts").values("id", "kind", "attempts", "last_error")[:10]),
        "delivered_kept": manager.filter(due_at__isnull=True).count(),
        "kinds": sorted(_kinds),
    }

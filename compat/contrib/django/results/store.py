"""``result_backend = "django-db"``: task states, groups and chord barriers in django-celery-results' tables.

What lives where:

- In the database (the ``TaskResult``, ``GroupResult`` and ``ChordCounter`` rows): every state record
  (``status``, ``result``, ``traceback``, children, and with ``result_extended`` the task name, arguments,
  worker, retries and queue), saved groups and chord headers, and each chord's counter.
- On the broker's Redis (``compat.stores.redis_for``): revocations (``revocations.py``: they are
  broadcast), the ``app.control`` channel, dead letters, alerts and metrics. With no Redis at all, dead
  letters, alerts and metrics are off and revocations reach the workers of this process only.

A ready state is final: the write is one conditional ``UPDATE ... WHERE status NOT IN (ready)`` (or an
``INSERT`` that the unique ``task_id`` decides), so a late or duplicate write never moves a task back.
A chord's body is sent exactly once: each header member's state write and its count in the chord's
``ChordCounter`` row happen in one transaction that holds that row locked (an ``UPDATE`` first, which
takes PostgreSQL's row lock and SQLite's write lock). ``count`` is the number of members still to
succeed, as django-celery-results keeps it: the member whose write stored its SUCCESS (once per task id:
a ready state is final) counts one down, and the one that reaches 0 sends the body; a claimed chord is 0
too. ``barrier()`` alone (a member whose result is not stored) counts the header's SUCCESS rows instead.
``AsyncResult.get()`` polls (``poll_until_ready``: 50 ms, backing off to 1 s). Rows older than
``result_expires`` are deleted by the process that writes states, at most once an hour (``cleanup``).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from compat import serialization
from compat.exceptions import ImproperlyConfigured
from compat.results.chord import ChordHeader, header_ids
from compat.results.store import READY, poll_until_ready

from .revocations import Revocations

CONTENT_TYPE, CONTENT_ENCODING = "application/json", "utf-8"
#: How often (seconds) a process deletes rows older than ``result_expires``.
CLEANUP_EVERY = 3600.0
#: Task ids per ``IN (...)`` query.
CHUNK = 500
APP_LABEL = "compat.contrib.django.results"


def _models() -> Any:
    """The models module, once Django's apps are loaded (the store may be built before that)."""
    from django.apps import apps

    if apps.ready and not apps.is_installed(APP_LABEL):
        raise ImproperlyConfigured(
            f"result_backend='django-db' needs {APP_LABEL!r} in INSTALLED_APPS (then run migrate); "
            "see docs/compat.md#results-and-states"
        )
    from . import models

    return models


class DatabaseStore:
    """State records in ``django_celery_results_taskresult`` (the result store protocol, on the ORM)."""

    enabled = True

    def __init__(self, app: Any = None, expires: float | None = 86400) -> None:
        self.app = app
        self.expires = expires
        self.revocations = Revocations(app, self._revoked_records)
        self._next_cleanup = time.monotonic() + 60.0
        self._cleanup_lock = threading.Lock()
        from django.apps import apps

        if apps.ready:
            _models()  # refuse a missing app now, not on the worker's first write

    # -- records -----------------------------------------------------------------------------------
    def set_state(
        self, task_id: str, meta: dict[str, Any], *, force: bool = False, result_json: str | None = None
    ) -> bool:
        """Store ``meta`` unless the task is already in a ready state (``force`` overrides)."""
        TaskResult = _models().TaskResult
        fields = row_fields(meta, result_json)
        written = False
        with transaction.atomic():
            for attempt in range(2):
                rows = TaskResult.objects.filter(task_id=task_id)
                if not force:
                    rows = rows.exclude(status__in=READY)
                if rows.update(**fields):
                    written = True
                    break
                if TaskResult.objects.filter(task_id=task_id).exists():
                    break  # ready already: final
                try:
                    with transaction.atomic():
                        TaskResult.objects.create(task_id=task_id, **fields)
                    written = True
                    break
                except IntegrityError:  # another writer inserted it first: update that row instead
                    if attempt:
                        raise  # not a race: the table refuses the row
        if written and meta["status"] in READY:
            self._maybe_cleanup()
        return written

    def get_meta(self, task_id: str) -> dict[str, Any] | None:
        row = _models().TaskResult.objects.filter(task_id=task_id).first()
        return record_of(row) if row is not None else None

    def get_many(self, task_ids: list[str]) -> list[dict[str, Any] | None]:
        TaskResult = _models().TaskResult
        rows = {}
        for start in range(0, len(task_ids), CHUNK):  # SQLite bounds the parameters of one query
            chunk = task_ids[start : start + CHUNK]
            rows.update((row.task_id, row) for row in TaskResult.objects.filter(task_id__in=chunk))
        return [record_of(rows[task_id]) if task_id in rows else None for task_id in task_ids]

    def forget(self, task_id: str) -> None:
        _models().TaskResult.objects.filter(task_id=task_id).delete()

    def wait(
        self, task_ids: list[str], timeout: float | None = None, interval: float = 1.0
    ) -> list[dict[str, Any]]:
        """Block until every task is ready, polling (50 ms at first, then up to ``interval``)."""
        return poll_until_ready(self.get_many, task_ids, timeout, interval)

    # -- groups ------------------------------------------------------------------------------------
    def save_group(self, group_id: str, value: Any) -> None:
        """Write first (an ``UPDATE``, then an ``INSERT`` if there was no row): on SQLite a transaction that
        read first could not take the write lock while workers write states."""
        GroupResult = _models().GroupResult
        fields = {
            "result": serialization.dumps(value),
            "content_type": CONTENT_TYPE,
            "content_encoding": CONTENT_ENCODING,
            "date_done": timezone.now(),
        }
        with transaction.atomic():
            if GroupResult.objects.filter(group_id=group_id).update(**fields):
                return
            try:
                with transaction.atomic():
                    GroupResult.objects.create(group_id=group_id, **fields)
            except IntegrityError:  # saved meanwhile by another process
                GroupResult.objects.filter(group_id=group_id).update(**fields)

    def restore_group(self, group_id: str) -> Any:
        row = _models().GroupResult.objects.filter(group_id=group_id).first()
        return serialization.loads(row.result) if row is not None and row.result else None

    def delete_group(self, group_id: str) -> None:
        _models().GroupResult.objects.filter(group_id=group_id).delete()

    # -- chords ------------------------------------------------------------------------------------
    def _locked_counter(self, group_id: str, initial: int | None) -> Any:
        """The chord's counter row, locked until the transaction ends (created when missing).

        The first statement is a write, so that on SQLite the transaction holds the write lock before it
        reads anything (a read first could deadlock two writers); on PostgreSQL it takes the row lock.
        ``initial`` None creates the row already claimed (count 0).
        """
        ChordCounter = _models().ChordCounter
        rows = ChordCounter.objects.filter(group_id=group_id)
        if not rows.update(count=F("count")):
            stored = self.restore_group(group_id)
            sub_tasks = json.dumps(stored[1] if stored else [])
            try:
                with transaction.atomic():
                    ChordCounter.objects.create(group_id=group_id, sub_tasks=sub_tasks, count=initial or 0)
            except IntegrityError:  # created meanwhile by another member: lock that one
                rows.update(count=F("count"))
            else:
                if initial is None:
                    return None  # created claimed
        return rows.select_for_update().get()

    def barrier(self, group_id: str, member: str, size: int, claimant: str) -> bool:
        """True for exactly one caller: the one that finds every header member succeeded."""
        with transaction.atomic():
            counter = self._locked_counter(group_id, size)
            if counter.count == 0:
                return False  # fired or claimed already
            ids = [node[0][0] for node in json.loads(counter.sub_tasks or "[]")]
            if ids:
                TaskResult, done = _models().TaskResult, set()
                for start in range(0, len(ids), CHUNK):
                    rows = TaskResult.objects.filter(task_id__in=ids[start : start + CHUNK], status="SUCCESS")
                    done.update(rows.values_list("task_id", flat=True))
                remaining = len(set(ids) - done - {claimant})
            else:  # no saved header (an older writer): count down as django-celery-results does
                remaining = counter.count - 1
            return self._count(counter, remaining)

    @staticmethod
    def _count(counter: Any, remaining: int) -> bool:
        """Store the members still to succeed; True when that makes the chord complete."""
        counter.count = max(remaining, 0)
        counter.save(update_fields=["count"])
        return counter.count == 0

    def set_state_joining(
        self, task_id: str, meta: dict[str, Any], chord: dict[str, Any], *, result_json: str | None = None
    ) -> ChordHeader | None:
        """``set_state`` for a chord header member and its count in the barrier, in one transaction.

        A ready state is written once per task id, so the member whose SUCCESS this write is counts one
        down; a redelivered member (its SUCCESS already stored) counts nothing.
        """
        with transaction.atomic():
            written = self.set_state(task_id, meta, result_json=result_json)
            counter = self._locked_counter(chord["id"], chord["size"])
            fired = counter.count > 0 and written and self._count(counter, counter.count - 1)
        if not fired:
            return None
        member_ids = header_ids(self.restore_group(chord["id"]))
        return member_ids, self.get_many(member_ids)

    def claim(self, group_id: str, claimant: str) -> bool:
        """Claim a chord's outcome without waiting for the barrier (a header member failed)."""
        with transaction.atomic():
            counter = self._locked_counter(group_id, None)
            if counter is None:
                return True
            if counter.count == 0:
                return False
            counter.count = 0
            counter.save(update_fields=["count"])
            return True

    # -- revocation (on Redis: see revocations.py) -------------------------------------------------
    def revoke(self, task_ids: Any) -> None:
        self.revocations.revoke(task_ids)

    def revoked_since(self, since: float) -> list[str]:
        return self.revocations.revoked_since(since)

    def follow_revocations(self, on_revoke: Any) -> None:
        self.revocations.follow_revocations(on_revoke)

    def _revoked_records(self, since: float) -> list[str]:
        moment = _moment(datetime.fromtimestamp(since, UTC).isoformat())
        rows = _models().TaskResult.objects.filter(status="REVOKED", date_done__gt=moment)
        return list(rows.values_list("task_id", flat=True))

    # -- expiry ------------------------------------------------------------------------------------
    def cleanup(self) -> int:
        """Delete task and group rows older than ``result_expires`` (and finished chords'); the count."""
        if not self.expires:
            return 0
        models = _models()
        before = timezone.now() - timedelta(seconds=float(self.expires))
        with transaction.atomic():
            deleted, _ = models.TaskResult.objects.filter(date_done__lt=before).delete()
            old_groups = models.GroupResult.objects.filter(date_done__lt=before)
            models.ChordCounter.objects.filter(group_id__in=old_groups.values("group_id")).delete()
            deleted += old_groups.delete()[0]
        return deleted

    def _maybe_cleanup(self) -> None:
        """``cleanup`` at most once an hour, never inside a caller's transaction (a chord member's)."""
        if time.monotonic() < self._next_cleanup or transaction.get_connection().in_atomic_block:
            return
        if not self._cleanup_lock.acquire(blocking=False):
            return
        try:
            self._next_cleanup = time.monotonic() + CLEANUP_EVERY
            self.cleanup()
        finally:
            self._cleanup_lock.release()


# -- rows <-> records --------------------------------------------------------------------------------
def row_fields(meta: dict[str, Any], result_json: str | None = None) -> dict[str, Any]:
    """A state record as django-celery-results' columns (as its ``DatabaseBackend`` writes them)."""
    status = meta["status"]
    extra = {key: meta[key] for key in ("retries", "queue") if meta.get(key) is not None}
    fields: dict[str, Any] = {
        "status": status,
        "result": result_json if result_json is not None else serialization.dumps(meta.get("result")),
        "traceback": meta.get("traceback"),
        "meta": serialization.dumps({"children": meta.get("children") or [], **extra}),
        "content_type": CONTENT_TYPE,
        "content_encoding": CONTENT_ENCODING,
        "date_done": _moment(meta.get("date_done")),
    }
    if "name" in meta:  # result_extended
        fields.update(
            task_name=meta.get("name"),
            worker=meta.get("worker"),
            task_args=json.dumps(repr(tuple(meta.get("args") or ()))),
            task_kwargs=json.dumps(repr(dict(meta.get("kwargs") or {}))),
        )
    if status == "STARTED":
        fields["date_started"] = timezone.now()
    return fields


def record_of(row: Any) -> dict[str, Any]:
    """The state record of a row (written here or by django-celery-results)."""
    meta = _decode(row.meta) or {}
    record = {
        "status": row.status,
        "result": _decode(row.result),
        "traceback": row.traceback,
        "children": meta.get("children") or [],
        "date_done": row.date_done.isoformat() if row.status in READY and row.date_done else None,
        "task_id": row.task_id,
    }
    if row.task_name is not None:
        record.update(
            name=row.task_name,
            args=_decode(row.task_args),
            kwargs=_decode(row.task_kwargs),
            worker=row.worker,
            retries=meta.get("retries"),
            queue=meta.get("queue"),
        )
    return record


def _decode(text: str | None) -> Any:
    if not text:
        return None
    try:
        return serialization.loads(text)
    except ValueError:  # not JSON (a pickle-serialized row of an old Celery project): shown as it is
        return text


def _moment(value: Any) -> datetime:
    """A record's ``date_done`` as the database takes it (naive local time when ``USE_TZ`` is off)."""
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
    if moment is None:
        return timezone.now()
    if not settings.USE_TZ and timezone.is_aware(moment):
        return timezone.make_naive(moment)
    return moment

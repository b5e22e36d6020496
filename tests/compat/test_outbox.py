"""The transactional outbox's logic: writes and events commit together, relays, leases, dedupe.

Pure logic on Dramatiq's StubBroker (``memory://``) and the test database; an unreachable broker is a real
``redis://`` URL on a port nobody listens on. The real outage, with worker processes, is in
tests/e2e/test_outbox_outage.py.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from dramatiq import Worker
from dramatiq.message import Message
from dramatiq.middleware import SkipMessage

import compat.app
from compat import Celery
from compat.contrib.django import apply_async_on_commit, delay_on_commit, outbox
from compat.contrib.django.middleware import DbConnections, OutboxDedupe
from compat.contrib.django.models import OutboxEntry
from compat.contrib.django.task import HEADER, KIND, DjangoTask, send_stored_call
from compat.exceptions import EncodeError
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


def make_app(name: str, broker: str) -> Celery:
    app = Celery(name, broker=broker, backend="cache+memory://")
    app.conf.task_default_queue = "q"
    return app


@pytest.fixture
def app():
    """A current stub-broker app with one task, ``record``, that appends its arguments to ``app.ran``."""
    previous = compat.app._current_app
    app = make_app("outboxtest", "memory://")
    app.ran = []

    @app.task(name="outboxtest.record")
    def record(value, when=None):
        app.ran.append((value, when))
        return value

    app.record = record
    yield app
    app.broker.flush_all()
    compat.app._current_app = previous


def queued(app) -> list[Message]:
    queue = app.broker.queues.get("q")
    return [Message.decode(raw) for raw in list(queue.queue)] if queue else []


# --- the API -------------------------------------------------------------------------------------------


def test_tasks_are_django_tasks_under_django(app):
    assert isinstance(app.record, DjangoTask)
    assert callable(app.record.delay_on_commit) and callable(app.record.apply_async_on_commit)


def test_delay_on_commit_sends_after_commit_with_the_outbox_header(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            assert app.record.delay_on_commit(1) is None  # as in Celery
            assert queued(app) == []  # not before commit
            entry = OutboxEntry.objects.get()
    [message] = queued(app)
    assert message.actor_name == "outboxtest.record" and list(message.args) == [1]
    mark = message.options["headers"][HEADER]
    assert mark["entry"] == str(entry.pk) and len(mark["send"]) == 32
    entry.refresh_from_db()
    assert entry.due_at is None and entry.sent_at is not None and entry.run_token == ""


def test_rolled_back_write_leaves_no_entry_and_sends_nothing(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            Group.objects.create(name="written")
            app.record.delay_on_commit(1)
            raise RuntimeError("the view failed")
    assert OutboxEntry.objects.count() == 0 and queued(app) == []
    assert not Group.objects.filter(name="written").exists()


def test_rolled_back_savepoint_drops_only_its_event(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        app.record.delay_on_commit("kept")
        try:
            with transaction.atomic():
                app.record.delay_on_commit("dropped")
                raise ValueError
        except ValueError:
            pass
    assert [list(m.args) for m in queued(app)] == [["kept"]]
    assert OutboxEntry.objects.count() == 1


def test_bad_arguments_fail_at_the_call_site_and_write_nothing(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(EncodeError, match=r"record: positional argument 0"), transaction.atomic():
            Group.objects.create(name="written")
            app.record.delay_on_commit(object())
        with pytest.raises(TypeError):
            app.record.delay_on_commit(1, 2, 3)
    assert OutboxEntry.objects.count() == 0 and queued(app) == []
    assert not Group.objects.filter(name="written").exists()


def test_options_travel_and_relative_times_become_absolute(app, django_capture_on_commit_callbacks):
    task_id = str(uuid.uuid4())
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    before = datetime.now(UTC)
    with django_capture_on_commit_callbacks(execute=True):
        app.record.apply_async_on_commit(
            [Decimal("1.5")], {"when": when}, task_id=task_id, countdown=60, expires=3600, priority=5
        )
    stored = OutboxEntry.objects.get().payload
    assert stored["task_id"] == task_id and stored["options"]["priority"] == 5
    eta = outbox.from_json(stored["options"]["eta"])
    assert before + timedelta(seconds=59) < eta < datetime.now(UTC) + timedelta(seconds=61)
    [message] = [Message.decode(raw) for raw in app.broker.queues["q.DQ"].queue]
    assert message.message_id == task_id and message.options["priority"] == 5
    assert message.args == (Decimal("1.5"),) and message.kwargs == {"when": when}  # JSON envelopes
    assert message.options["expires_iso"].startswith(str((before + timedelta(hours=1)).year))


def test_links_travel_as_signatures(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        app.record.apply_async_on_commit(["first"], link=app.record.s(), link_error=app.record)
    [message] = queued(app)
    assert [s["task"] for s in message.options["link"]] == ["outboxtest.record"]
    assert [s["task"] for s in message.options["link_error"]] == ["outboxtest.record"]


def test_module_helpers_and_eager_mode(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delay_on_commit(app.record, "helper")
        apply_async_on_commit(app.record, ["helper2"])
    assert [list(m.args) for m in queued(app)] == [["helper"], ["helper2"]]
    app.conf.task_always_eager = True
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        app.record.delay_on_commit("eager")
        assert app.ran == []
    assert app.ran == [("eager", None)] and OutboxEntry.objects.count() == 2  # no entry for eager


def test_outbox_can_be_turned_off(app, django_capture_on_commit_callbacks):
    app.conf.outbox_enabled = False
    with django_capture_on_commit_callbacks(execute=True):
        app.record.delay_on_commit("plain")
    assert OutboxEntry.objects.count() == 0 and [list(m.args) for m in queued(app)] == [["plain"]]


# --- outages and relays --------------------------------------------------------------------------------


@pytest.fixture
def down(app):
    """The same task on an app whose broker nobody listens on (current while the block runs)."""
    down = make_app("outboxtest", f"redis://127.0.0.1:{free_port()}/0")
    down.task(name="outboxtest.record")(lambda value, when=None: value)
    yield down
    compat.app._current_app = app


def test_broker_down_at_commit_keeps_the_entry_for_a_relay(app, down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        Group.objects.create(name="committed")
        down.tasks["outboxtest.record"].delay_on_commit(7)  # no exception: the write stands
    entry = OutboxEntry.objects.get()
    assert Group.objects.filter(name="committed").exists()
    assert entry.due_at <= timezone.now() and entry.attempts == 1 and "OperationalError" in entry.last_error
    outcome = outbox.relay_once()  # still down
    assert outcome.sent == 0 and outcome.unavailable and OutboxEntry.objects.get().due_at <= timezone.now()
    compat.app._current_app = app  # the broker is back
    outcome = outbox.relay_once()
    assert (outcome.sent, outcome.failed) == (1, 0)
    [message] = queued(app)
    assert list(message.args) == [7] and message.options["headers"][HEADER]["entry"] == str(entry.pk)
    assert outbox.relay_once().taken == 0  # delivered once


def test_an_outage_stops_the_batch_and_leaves_every_entry_due(app, down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():  # the process "died"
        for value in range(5):
            app.record.delay_on_commit(value)
    OutboxEntry.objects.update(due_at=timezone.now())  # past the grace period
    outcome = outbox.relay_once()
    assert (outcome.taken, outcome.sent, outcome.failed) == (5, 0, 5) and outcome.unavailable
    assert OutboxEntry.objects.filter(due_at__lte=timezone.now()).count() == 5
    compat.app._current_app = app
    assert outbox.relay_once(batch=3).sent == 3 and outbox.relay_once(batch=3).sent == 2
    assert sorted(m.args[0] for m in queued(app)) == [0, 1, 2, 3, 4]


def test_new_entries_are_left_to_the_committing_process_then_leased(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        app.record.delay_on_commit(1)
    assert outbox.take_due(10) == []  # within the grace period
    OutboxEntry.objects.update(due_at=timezone.now())
    [taken] = outbox.take_due(10)
    assert taken.attempts == 1 and outbox.take_due(10) == []  # leased to the first relay
    entry = OutboxEntry.objects.get()
    assert entry.due_at > timezone.now() + timedelta(seconds=outbox.LEASE - 5)
    OutboxEntry.objects.update(due_at=timezone.now())  # that relay died: the lease ran out
    assert [e.id for e in outbox.take_due(10)] == [taken.id]


def test_a_failing_delivery_backs_off_and_an_unknown_kind_is_kept(app):
    outbox.register("test.boom", lambda entry_id, payload: 1 / 0)
    with transaction.atomic():
        OutboxEntry.objects.create(kind="test.boom", payload={"n": 1}, due_at=timezone.now())
        OutboxEntry.objects.create(kind="test.nobody", payload={}, due_at=timezone.now())
    outcome = outbox.relay_once()
    assert (outcome.sent, outcome.failed, outcome.unavailable) == (0, 2, None)
    for entry in OutboxEntry.objects.all():
        assert entry.attempts == 1 and entry.due_at > timezone.now()
    assert "ZeroDivisionError" in OutboxEntry.objects.get(kind="test.boom").last_error
    assert "not registered" in OutboxEntry.objects.get(kind="test.nobody").last_error
    assert [outbox.backoff(n) for n in (1, 2, 3, 10, 30)] == [1, 2, 4, 300, 300]


def test_other_kinds_are_deleted_once_delivered(app, django_capture_on_commit_callbacks):
    seen = []
    outbox.register("test.seen", lambda entry_id, payload: seen.append((entry_id, payload)))
    with pytest.raises(LookupError):
        outbox.add("test.unregistered", {})
    with django_capture_on_commit_callbacks(execute=True):
        entry_id = outbox.add("test.seen", {"when": datetime(2030, 1, 1, tzinfo=UTC)})
    assert seen == [(entry_id, {"when": datetime(2030, 1, 1, tzinfo=UTC)})]
    assert OutboxEntry.objects.count() == 0


def test_purge_deletes_only_expired_delivered_entries(app):
    now = timezone.now()
    OutboxEntry.objects.create(kind=KIND, payload={}, expires_at=now - timedelta(seconds=1))
    kept = OutboxEntry.objects.create(kind=KIND, payload={}, expires_at=now + timedelta(hours=1))
    waiting = OutboxEntry.objects.create(kind=KIND, payload={}, due_at=now)
    assert outbox.purge() == 1
    assert set(OutboxEntry.objects.values_list("pk", flat=True)) == {kept.pk, waiting.pk}


# --- dedupe --------------------------------------------------------------------------------------------


def test_claim_run_first_send_wins_and_its_redelivery_still_runs(app):
    entry = OutboxEntry.objects.create(kind=KIND, payload={}, sent_at=timezone.now())
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    assert outbox.claim_run(str(entry.pk), first) is True
    assert outbox.claim_run(str(entry.pk), first) is True  # the same copy again (worker died mid-task)
    assert outbox.claim_run(str(entry.pk), second) is False  # a second send
    entry.refresh_from_db()
    assert entry.run_token == first and entry.expires_at > timezone.now() + timedelta(minutes=59)
    assert outbox.claim_run(str(uuid.uuid4()), second) is True  # gone or unknown: cannot tell, runs


def test_dedupe_middleware_skips_a_second_send(app):
    entry = OutboxEntry.objects.create(kind=KIND, payload={}, sent_at=timezone.now())
    middleware = OutboxDedupe()

    def message(send: str, **mark) -> Message:
        headers = {HEADER: {"entry": str(entry.pk), "send": send, **mark}}
        return Message(queue_name="q", actor_name="x", args=(), kwargs={}, options={"headers": headers})

    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    middleware.before_process_message(app.broker, message(first))
    middleware.before_process_message(app.broker, message(first))
    with pytest.raises(SkipMessage):
        middleware.before_process_message(app.broker, message(second))
    for hostile in ("x" * 500, "zz" * 16, 5):  # malformed marks are ignored: the message runs as any other
        middleware.before_process_message(app.broker, message(hostile))
    middleware.before_process_message(app.broker, message(first, entry="not-a-uuid"))
    plain = Message(queue_name="q", actor_name="x", args=(), kwargs={}, options={"headers": "junk"})
    middleware.before_process_message(app.broker, plain)


@pytest.mark.django_db(transaction=True)
def test_an_entry_sent_twice_runs_once_on_a_worker(app):
    """A relay that died after sending but before recording it sends the entry again: one run."""
    from compat.contrib.django.worker import _install

    _install(app.broker)
    assert [type(m) for m in app.broker.middleware[:2]] == [DbConnections, OutboxDedupe]
    with transaction.atomic():
        entry_id = outbox.add(KIND, {"task": "outboxtest.record", "task_id": str(uuid.uuid4()),
                                     "args": ["once"], "kwargs": {}, "options": {}})
    assert len(queued(app)) == 1  # the commit-time send
    send_stored_call(entry_id, OutboxEntry.objects.get(pk=entry_id).payload)  # the relay's second send
    assert len(queued(app)) == 2
    app.broker.emit_after("process_boot")
    worker = Worker(app.broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        app.broker.join("q", fail_fast=False, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    assert app.ran == [("once", None)]


def test_status_command(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        app.record.delay_on_commit(1)
    OutboxEntry.objects.update(last_error="OperationalError: down", attempts=3)
    out = io.StringIO()
    call_command("outbox", "status", stdout=out)
    assert "1 waiting event(s), the oldest" in out.getvalue() and "1 failing" in out.getvalue()
    assert "attempts=3: OperationalError: down" in out.getvalue()
    OutboxEntry.objects.update(due_at=timezone.now())
    out = io.StringIO()
    call_command("outbox", "relay", "--once", stdout=out)
    assert "sent 1 event(s)" in out.getvalue() and len(queued(app)) == 1


def test_relay_logs_an_outage_once_and_its_end(app, down, django_capture_on_commit_callbacks, caplog):
    from compat.contrib.django.relay import Relay

    with django_capture_on_commit_callbacks(execute=False):
        app.record.delay_on_commit(1)
    OutboxEntry.objects.update(due_at=timezone.now())
    relay = Relay(interval=0.01)
    with caplog.at_level("WARNING", logger="compat.outbox"):
        relay.step()
        relay.step()
        compat.app._current_app = app
        assert relay.step().sent == 1
    lines = [r.getMessage() for r in caplog.records]
    assert sum("broker is unavailable" in line for line in lines) == 1
    assert sum("broker is back after" in line for line in lines) == 1


@pytest.mark.django_db(transaction=True)
def test_relay_thread_sends_due_entries_until_stopped(app):
    import time

    from compat.contrib.django.relay import Relay

    with transaction.atomic():
        OutboxEntry.objects.create(
            kind=KIND,
            payload={"task": "outboxtest.record", "task_id": str(uuid.uuid4()), "args": ["relayed"],
                     "kwargs": {}, "options": {}},
            due_at=timezone.now(),
        )
    relay = Relay(interval=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while not queued(app) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        relay.stop()
    assert [list(m.args) for m in queued(app)] == [["relayed"]] and not relay.thread.is_alive()

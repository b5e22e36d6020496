"""The Django integration: the dead-letter command, rundramatiq's command line."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from django.core.management import CommandError, call_command
from dramatiq.message import Message

import compat.app
from compat import Celery
from compat.contrib.django.management.commands.rundramatiq import worker_args
from compat.deadletters import build_record, store_for

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def app(redis_url, redis_client):
    """A compat app on the test Redis, made current for the duration of one test."""
    previous = compat.app._current_app
    namespace = f"djtest:{uuid.uuid4().hex[:8]}"
    app = Celery("djtest", broker=redis_url, backend=redis_url)
    app.conf.update(broker_namespace=namespace, result_namespace=namespace + "-res", task_default_queue="q")
    yield app
    compat.app._current_app = previous
    keys = list(redis_client.scan_iter(match=namespace + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def dead(app):
    """Three dead letters of two tasks."""
    store = store_for(app)
    for index, name in enumerate(["proj.tasks.a", "proj.tasks.a", "proj.tasks.b"]):
        message = Message(
            queue_name="q",
            actor_name=name,
            args=(index,),
            kwargs={},
            options={"retries": 2},
            message_id=f"id-{index}",
        )
        store.add(build_record(message, reason="failed", exception=ValueError(f"bad {index}")))
    return store


def test_command_lists_shows_requeues_and_purges(app, dead):
    out = io.StringIO()
    call_command("deadletters", "list", "--task", "proj.tasks.a", stdout=out)
    assert "3 dead letter(s)" in out.getvalue()
    assert "id-0" in out.getvalue() and "id-1" in out.getvalue() and "id-2" not in out.getvalue()
    out = io.StringIO()
    call_command("deadletters", "show", "id-2", stdout=out)
    assert "ValueError: bad 2" in out.getvalue()
    out = io.StringIO()
    call_command("deadletters", "requeue", "--task", "proj.tasks.a", stdout=out)
    assert "requeued 2 task(s)" in out.getvalue()
    assert app.broker.client.llen(f"{app.conf.broker_namespace}:q") == 2
    assert [record["id"] for record in dead.iter()] == ["id-2"]
    with pytest.raises(Exception, match="--yes"):
        call_command("deadletters", "purge", "--all", stdout=io.StringIO())
    out = io.StringIO()
    call_command("deadletters", "purge", "--all", "--yes", stdout=out)
    assert "purged 1" in out.getvalue() and dead.count() == 0


def test_requeued_message_keeps_its_id_and_gets_fresh_retries(app, dead):
    dead.requeue("id-0", app)
    raw = app.broker.client.hvals(f"{app.conf.broker_namespace}:q.msgs")[0]
    message = Message.decode(raw)
    assert message.message_id == "id-0" and "retries" not in message.options


def test_rundramatiq_threads_default_to_the_env_then_worker_concurrency(settings):
    from compat.app import get_current_app
    from compat.contrib.django.management.commands.rundramatiq import default_threads

    conf = get_current_app().conf
    previous = conf.get("worker_concurrency")
    try:
        conf.worker_concurrency = None
        assert default_threads({}) == 8
        conf.worker_concurrency = 3
        assert default_threads({}) == 3
        assert default_threads({"DRAMATIQ_THREADS": "5"}) == 5
    finally:
        conf.worker_concurrency = previous


def test_rundramatiq_command_line():
    args = worker_args(2, 4, ["default", "ai_queue"], shutdown_timeout=30000, path="/app")
    assert args[:5] == ["compat.contrib.django.worker", "--processes", "2", "--threads", "4"]
    assert "--queues" in args and args[-2:] == ["--worker-shutdown-timeout", "30000"]


def test_command_requeues_what_it_can_and_names_the_rest_in_one_line_each(app, dead):
    dead.add(build_record(None, reason="undecodable", raw=b"\xff not a message"))
    bad = next(record["id"] for record in dead.iter() if record["reason"] == "undecodable")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("deadletters", "requeue", "--all", stdout=out, stderr=err)
    assert str(info.value) == "1 of 4 dead letter(s) not requeued (see above)"
    assert "requeued 3 task(s)" in out.getvalue()
    reason = f"dead letter {bad} has no decodable message and cannot be requeued"
    assert err.getvalue().splitlines() == [f"error: dead letter {bad}: cannot be requeued: {reason}"]
    assert [record["id"] for record in dead.iter()] == [bad]
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("deadletters", "requeue", bad, stdout=io.StringIO(), stderr=io.StringIO())


def test_rundramatiq_passes_the_supervisors_options_and_refuses_them_without_it(monkeypatch):
    """``--stuck-after`` and ``--restart-delay`` reach ``compat.supervisor`` (which checks their range,
    ``test_supervisor.py``); with ``--no-supervise`` (the plain ``dramatiq`` command has neither) they are
    refused before anything starts."""
    started = []
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append(argv))
    call_command("rundramatiq", "-p", "1", "-t", "2", "--stuck-after", "4.5", "--restart-delay", "0.2",
                 stdout=io.StringIO())
    (argv,) = started
    assert argv[1:7] == ["-m", "compat.supervisor", "--stuck-after", "4.5", "--restart-delay", "0.2"]
    assert argv[7] == "compat.contrib.django.worker"
    with pytest.raises(CommandError, match="--stuck-after: an option of the supervisor, which"):
        call_command("rundramatiq", "--no-supervise", "--stuck-after", "5", stdout=io.StringIO())
    assert len(started) == 1  # nothing else was started
    call_command("rundramatiq", "-p", "1", "--no-supervise", stdout=io.StringIO())
    assert started[-1][1:4] == ["-m", "dramatiq", "compat.contrib.django.worker"]

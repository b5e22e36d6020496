"""``task_rejected`` and ``task_unknown`` from a worker on RabbitMQ, as Celery's consumer sends them and as
the Redis broker's consumer does (``test_worker_lifecycle``): a body that is no message is rejected with
``exc=None`` (Celery's unknown message), a malformed one with ``exc=InvalidTaskError`` (its invalid task),
both dead-lettered first; a message for a task the worker does not know is ``task_unknown`` (FAILURE
``NotRegistered``), not ``task_rejected``, as in Celery's ``on_unknown_task`` (issue 19)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pika
import pytest

from compat.deadletters import store_for
from tests.compat.brokers import rabbit_env
from tests.compat.conftest import ROOT, stop_worker
from tests.compat.test_worker_lifecycle import rows, wait_for
from tests.rabbitmq_support import module_copy, node


@pytest.fixture
def lifecycle(worker_env, tmp_path):
    """The lifecycle app on a vhost of its own (results and dead letters in the session's Redis), and a
    worker of it recording its signals."""
    rabbit = node(tmp_path)
    vhost = rabbit.add_vhost()
    env = rabbit_env(worker_env, rabbit.url(vhost))
    env["COMPAT_TEST_NS"] = env["COMPAT_TEST_NS"] + "-rej"
    out, log = tmp_path / "signals.jsonl", tmp_path / "worker.log"
    keys = {key: env[key] for key in env if key.startswith("COMPAT_TEST_")}
    with module_copy("tests.compat.lifecycle_app", keys) as module:
        argv = [sys.executable, "-m", "dramatiq", "tests.compat.lifecycle_app", "-p", "1", "-t", "2"]
        proc = subprocess.Popen(
            [*argv, "-Q", "lifecycle"], cwd=ROOT, env={**env, "LIFECYCLE_OUT": str(out)},
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
        )
        try:
            wait_for(lambda: rows(out, "worker_ready"), 60, proc, log)
            yield module, proc, out, log
        finally:
            stop_worker(proc)
            module.app.broker.close()
            rabbit.delete_vhost(vhost)


def _queue_exists(connection: pika.BlockingConnection, name: str) -> bool:
    channel = connection.channel()
    try:
        channel.queue_declare(name, passive=True)
    except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet (the channel is closed)
        return False
    channel.close()
    return True


def test_task_rejected_for_a_body_that_is_no_message_and_for_a_malformed_one(lifecycle):
    module, proc, out, log = lifecycle
    store = store_for(module.app)
    before = store.count()
    malformed = {
        "queue_name": "lifecycle", "actor_name": "lifecycle.say", "args": ["x"], "kwargs": [1, 2],
        "options": {}, "message_id": str(uuid.uuid4()), "message_timestamp": 0,
    }
    connection = pika.BlockingConnection(module.app.broker.parameters)
    # worker_ready can come before its consumer declared the queue: a raw publish to a queue not there yet
    # is dropped by RabbitMQ (unroutable), so wait until it exists
    wait_for(lambda: _queue_exists(connection, "lifecycle"), 30, proc, log)
    channel = connection.channel()
    for body in (b"\xff not json", json.dumps(malformed).encode()):
        channel.basic_publish("", "lifecycle", body, pika.BasicProperties(delivery_mode=2))
    connection.close()
    wait_for(lambda: len(rows(out, "task_rejected")) == 2, 30, proc, log)
    found = sorted(rows(out, "task_rejected"), key=lambda row: row["exc"])
    assert found[0]["exc"].startswith("InvalidTaskError(") and "kwargs must be a mapping" in found[0]["exc"]
    assert found[1]["exc"] == "None"
    assert all(row["kwargs"] == ["exc", "message"] and row["queue"] == "lifecycle" for row in found)
    assert all(row["sender"] == "Consumer" for row in found)  # the worker's consumer, as in Celery
    assert store.count() == before + 2  # kept in the dead-letter store before the signal
    assert module.say.delay("still here").get(timeout=30) == "still here"
    assert proc.poll() is None


def test_a_message_for_an_unknown_task_is_task_unknown_not_task_rejected(lifecycle):
    module, proc, out, log = lifecycle
    sent = module.app.send_task("lifecycle.nobody", args=[1], queue="lifecycle")
    wait_for(lambda: rows(out, "task_unknown"), 30, proc, log)
    (row,) = rows(out, "task_unknown")
    assert row["sender"] == "Consumer" and row["kwargs"] == ["exc", "id", "message", "name"]
    assert (row["name"], row["id"]) == ("lifecycle.nobody", sent.id)
    assert row["exc"].startswith("NotRegistered(")
    assert sent.state == "FAILURE" and type(sent.result).__name__ == "NotRegistered"
    assert module.say.delay("after").get(timeout=30) == "after"
    assert rows(out, "task_rejected") == []

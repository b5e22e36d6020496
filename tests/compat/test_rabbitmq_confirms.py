"""Publisher confirms on RabbitMQ without a round trip per send (``compat/brokers/rabbitmq/confirms.py``).

A producer's ``delay()`` returns once the message is written; the process keeps it until RabbitMQ confirms
it and sends it again when the confirm does not come (a nack, a lost connection). With
``broker_transport_options={"confirm_publish": True}`` (kombu's option) every send waits, and so does a
worker's. Real RabbitMQ throughout: the machine's node in a vhost of this module's own, and a private node
where the broker has to stop taking messages (a memory alarm) and restart.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from compat import Celery
from compat.brokers.rabbitmq.upkeep import Upkeep
from compat.exceptions import ImproperlyConfigured, OperationalError
from tests.helpers import errors_in_threads, wait_for
from tests.rabbitmq_support import (
    PrivateRabbit,
    can_start_private,
    closing_apps,
    node_and_vhost,
    queued_ids,
)

QUEUE = "confirms"


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    yield from node_and_vhost(tmp_path_factory)


def make_app(url: str, **settings) -> Celery:
    # No Redis stores here: these tests are about the broker's publishes only.
    settings.setdefault("task_default_queue", QUEUE)
    app = Celery("confirms", broker=url, set_as_current=False, stores_url=False, **settings)
    app.task(name="confirms.add")(lambda x, y: x + y)
    return app


@pytest.fixture
def app_on(rabbit):
    found, vhost = rabbit
    with closing_apps(lambda **settings: make_app(found.url(vhost), **settings)) as make:
        yield make


def confirm_readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "compat-confirms"]


def test_a_send_returns_before_its_confirm_which_is_taken_soon_after(app_on):
    app = app_on()
    add = app.tasks["confirms.add"]
    add.delay(0, 0)
    wait_for(lambda: app.broker.unconfirmed() == 0, 10, "the first confirm")
    add.delay(1, 1)
    # Its confirm cannot have come back yet: the send did not wait for it.
    assert app.broker.unconfirmed() == 1
    sent = [add.delay(i, i).id for i in range(500)]
    # Nobody sends any more: the reader thread takes the rest of the confirms.
    wait_for(lambda: app.broker.unconfirmed() == 0, 10, "every confirm")
    assert len(confirm_readers()) >= 1
    assert app.broker.queue_counts(QUEUE) == (502, 0)
    assert app.broker.flush_confirms(timeout=1) == 0
    assert set(sent) <= {m for m in queued_ids(app.conf.broker_url, QUEUE)}


def test_sends_from_many_threads_are_all_confirmed(app_on):
    app = app_on(broker_pool_limit=2)
    add = app.tasks["confirms.add"]
    assert errors_in_threads(lambda: [add.delay(i, i) for i in range(200)], 6) == []
    wait_for(lambda: app.broker.unconfirmed() == 0, 10, "every confirm")
    assert app.broker.queue_counts(QUEUE) == (1200, 0)


def test_confirm_publish_makes_every_send_wait(app_on):
    app = app_on(broker_transport_options={"confirm_publish": True})
    add = app.tasks["confirms.add"]
    for i in range(20):
        add.delay(i, i)
        assert app.broker.unconfirmed() == 0
    assert app.broker.queue_counts(QUEUE) == (20, 0)


def test_a_worker_process_waits_for_each_confirm(app_on):
    app = app_on()
    assert app.broker.pipelines
    Upkeep(app).before_worker_boot(app.broker, None)
    assert not app.broker.pipelines
    app.tasks["confirms.add"].delay(1, 2)
    assert app.broker.unconfirmed() == 0


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_confirm_publish_that_is_not_a_bool_is_refused(rabbit, value):
    found, vhost = rabbit
    with pytest.raises(ImproperlyConfigured, match=r"confirm_publish'\] must be True or False"):
        _ = make_app(found.url(vhost), broker_transport_options={"confirm_publish": value}).broker


def test_a_nacked_message_is_sent_again_then_reported(app_on, rabbit, caplog):
    """A queue at its length limit refuses publishes (``reject-publish``: RabbitMQ nacks them): each is
    sent again, and after three refusals logged by id; kombu without confirms would not know."""
    found, vhost = rabbit
    app = app_on(task_default_queue="capped")
    add = app.tasks["confirms.add"]
    add.delay(0, 0)  # declares the queue
    found.ctl("set_policy", "-p", vhost, "cap", "^capped$",
              '{"max-length": 3, "overflow": "reject-publish"}', "--apply-to", "queues")
    try:
        wait_for(lambda: _refuses(add, app), 30, "the length policy to apply")
        caplog.set_level("ERROR", logger="compat.broker")
        sent = [add.delay(i, i).id for i in range(4)]

        def reports() -> list[str]:
            return [r.getMessage() for r in caplog.records if "refused message" in r.getMessage()]

        # a refusal stays counted until it is reported, so a count of 0 means all four are logged
        wait_for(lambda: app.broker.unconfirmed() == 0, 20, "the nacks to be settled")
        refused = reports()
        assert len(refused) == 4 and all(any(i in line for line in refused) for i in sent), refused
        assert all("3 times" in line for line in refused)
    finally:
        found.ctl("clear_policy", "-p", vhost, "cap")


def _refuses(add, app) -> bool:
    """Fill the capped queue; whether a send past its limit comes back refused (the policy is on)."""
    app.broker.purge(["capped"])
    for i in range(3):
        add.delay(i, i)
    app.broker.confirm_each = True  # a waiting send raises on a nack
    try:
        add.delay(9, 9)
    except OperationalError as exc:
        assert "RabbitMQ refused the message for 'capped' (a publisher nack" in str(exc)
        return True
    finally:
        app.broker.confirm_each = False
    return False


CHILD = """
import logging, sys
logging.basicConfig(level=logging.ERROR, format="%(message)s")
from compat.brokers.rabbitmq import confirms
confirms.EXIT_WAIT = 1.0
from tests.compat.test_rabbitmq_confirms import make_app
add = make_app(sys.argv[1]).tasks["confirms.add"]
for i in range(5):
    print(add.delay(i, i).id, flush=True)
"""


@pytest.mark.skipif(
    not can_start_private(), reason="rabbitmq-server is not installed: no private node to block and restart"
)
def test_what_the_broker_never_confirmed_is_sent_again_after_a_restart_or_reported_at_exit(tmp_path):
    """A private node under a memory alarm stops reading what producers send. A producer process that
    exits then waits, and logs the ids it was owed; one that lives on sends them again to the restarted
    node: every message it sent is in the queue."""
    private = PrivateRabbit(tmp_path / "node").start()
    try:
        url = private.url(private.add_vhost())
        app = make_app(url)
        add = app.tasks["confirms.add"]
        first = add.delay(0, 0).id
        wait_for(lambda: app.broker.unconfirmed() == 0, 10, "the first confirm")
        private.ctl("set_vm_memory_high_watermark", "0")
        owed = [add.delay(i, i).id for i in range(50)]
        assert app.broker.unconfirmed() == 50

        child = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(CHILD), url], capture_output=True, text=True, timeout=60
        )
        assert child.returncode == 0, child.stderr
        child_ids = child.stdout.split()
        assert len(child_ids) == 5
        assert "5 message(s) sent to RabbitMQ were not confirmed within 1s and may be lost" in child.stderr
        assert all(i in child.stderr for i in child_ids)

        assert app.broker.unconfirmed() == 50  # still owed: the alarm holds every confirm back
        private.restart()  # the alarm was a runtime setting: the restarted node takes messages again
        last = add.delay(1, 1).id  # finds the connection gone, reconnects, sends what was owed first
        wait_for(lambda: app.broker.unconfirmed() == 0, 30, "the confirms after the restart")
        queued = queued_ids(url, QUEUE)
        assert {first, *owed, last} <= set(queued)
        assert not set(child_ids) & set(queued)  # the exited child's were lost, as it logged
        app.broker.close()
    finally:
        private.stop()

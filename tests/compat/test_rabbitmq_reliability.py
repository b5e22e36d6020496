"""RabbitMQ's promises on real worker processes: crashes, poison messages, a high priority in a backlog of
thousands, broker faults (issue 19). Each test works in a vhost of its own; results stay in Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid

import pika
import pytest

from compat import group, states
from compat.deadletters import store_for
from compat.exceptions import OperationalError
from tests.compat.brokers import app_copy, rabbit_env
from tests.compat.conftest import start_supervised, start_worker, stop_worker
from tests.rabbitmq_support import PrivateRabbit, can_start_private, node


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    return node(tmp_path_factory.getbasetemp())


@pytest.fixture
def vhost(rabbit):
    name = rabbit.add_vhost()
    yield rabbit.url(name)
    rabbit.delete_vhost(name)


def started(client, key: str, count: int = 1, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while client.llen(key) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [int(pid) for pid in client.lrange(key, 0, -1)]


def test_sigkill_mid_task_is_redelivered_at_once_to_another_worker(worker_env, vhost, redis_client, tmp_path):
    env = rabbit_env(worker_env, vhost, COMPAT_TEST_EXTRA_QUEUES="crash", dramatiq_queue_prefetch="1")
    key = f"{env['COMPAT_TEST_NS']}:crash:{uuid.uuid4().hex}"
    with app_copy(env) as tasks:
        workers = [
            start_worker(
                env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / f"{name}.log"
            )
            for name in ("a", "b")
        ]
        try:
            result = tasks.slow_once.apply_async((key, 3.0), queue="crash")
            victim = started(redis_client, key + ":started")[0]
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            runs = started(redis_client, key + ":started", count=2)
            redelivered_in = time.monotonic() - killed_at
            survivor = result.get(timeout=30)
        finally:
            for worker in workers:
                stop_worker(worker)
            tasks.app.broker.close()
    assert len(runs) == 2 and runs[1] != victim
    assert survivor == runs[1]
    assert [int(pid) for pid in redis_client.lrange(key + ":done", 0, -1)] == [survivor]
    print(f"redelivered {redelivered_in:.2f} s after SIGKILL")
    # No heartbeat or visibility timeout to wait for: RabbitMQ sees the connection close. The bound only
    # allows for a loaded machine (the Redis broker needs its 2 s heartbeat timeout here).
    assert redelivered_in < 5, f"redelivered {redelivered_in:.1f} s after SIGKILL"




def test_gathered_acks_never_cover_a_message_still_running(worker_env, vhost, redis_client, tmp_path):
    """The worker acknowledges finished messages in batches (one ``multiple`` ack below the oldest message
    still held): quick tasks finishing after a slow one started are acknowledged, the slow one is not,
    so a SIGKILL runs the slow one again and none of the quick ones."""
    env = rabbit_env(worker_env, vhost, COMPAT_TEST_EXTRA_QUEUES="crash", dramatiq_queue_prefetch="16")
    key = f"{env['COMPAT_TEST_NS']}:gathered:{uuid.uuid4().hex}"
    with app_copy(env) as tasks:
        def worker(name: str):
            return start_worker(env, "tests.compat.worker_app", threads=4, queues=["crash"],
                                log=tmp_path / f"{name}.log")

        victim = worker("a")
        try:
            slow = tasks.slow_once.apply_async((f"{key}:slow", 30.0), queue="crash")
            pid = started(redis_client, f"{key}:slow:started")[0]
            quick = [tasks.slow_once.apply_async((f"{key}:{i}", 0), queue="crash") for i in range(60)]
            deadline = time.monotonic() + 30
            while (done := sum(redis_client.llen(f"{key}:{i}:done") > 0 for i in range(60))) < 60:
                assert time.monotonic() < deadline, f"only {done} of the 60 quick tasks finished in 30 s"
                time.sleep(0.05)
            time.sleep(0.5)  # the last acknowledgements leave the worker
            os.kill(pid, signal.SIGKILL)
            survivor = worker("b")
            try:
                assert slow.get(timeout=30) != pid  # redelivered: its ack was never sent
                time.sleep(1)  # anything wrongly redelivered would run by now
            finally:
                stop_worker(survivor)
        finally:
            stop_worker(victim)
            tasks.app.broker.close()
    assert len(quick) == 60
    runs = [redis_client.llen(f"{key}:{i}:started") for i in range(60)]
    assert runs == [1] * 60, runs  # every quick task ran once: acknowledged, never redelivered
    assert redis_client.llen(f"{key}:slow:started") == 2


def test_poison_message_is_dead_lettered_after_its_redeliveries(worker_env, rabbit, redis_client, tmp_path):
    """A message that kills its worker each time, on a quorum queue and on a classic one at once: quorum
    queues count the deliveries (``x-delivery-count``, with ``x-delivery-limit`` behind), classic queues count
    redeliveries in Redis; either way it lands in our dead-letter store, not in Dramatiq's .XQ, and the
    queue keeps working."""
    runs = {}
    with contextlib.ExitStack() as stack:
        for queue_type in ("quorum", "classic"):
            vhost = rabbit.add_vhost()
            stack.callback(rabbit.delete_vhost, vhost)
            env = rabbit_env(
                worker_env,
                rabbit.url(vhost),
                COMPAT_TEST_EXTRA_QUEUES="crash",
                COMPAT_TEST_MAX_REDELIVERIES="1",
                COMPAT_TEST_QUEUE_TYPE=queue_type,
                dramatiq_queue_prefetch="1",
            )
            tasks = stack.enter_context(app_copy(env))
            stack.callback(tasks.app.broker.close)
            log = stack.enter_context(open(tmp_path / f"{queue_type}.log", "wb"))
            supervisor = start_supervised(env, log)
            stack.callback(supervisor.wait, 60)
            stack.callback(supervisor.send_signal, signal.SIGTERM)
            key = f"{env['COMPAT_TEST_NS']}:poison:{uuid.uuid4().hex}"
            runs[queue_type] = (tasks, key, tasks.suicide.apply_async((key,), queue="crash"))
        for queue_type, (tasks, key, poison) in runs.items():
            store = store_for(tasks.app)
            deadline = time.monotonic() + 90
            while store.get(poison.id) is None and time.monotonic() < deadline:
                time.sleep(0.2)
            record = store.get(poison.id)
            assert record is not None, f"{queue_type}: not dead-lettered; see {tmp_path}/{queue_type}.log"
            assert record["reason"] == "poison: its worker died on each of 2 deliveries"
            assert record["task"] == tasks.suicide.name and record["args"] == [key]
            assert redis_client.llen(key) == 2  # the first delivery and 1 redelivery ran, then it was buried
            assert poison.state == states.FAILURE
            assert tasks.add.apply_async((20, 1), queue="crash").get(timeout=60) == 21
            assert tasks.app.broker.get_queue_message_counts("crash")[2] == 0  # nothing in Dramatiq's .XQ


def test_high_priority_jumps_a_backlog_of_thousands(worker_env, vhost, redis_client, tmp_path):
    """3000 priority-0 messages wait (sent as one batch) behind a worker held on a gate; one priority-9
    message sent last runs next: RabbitMQ's x-max-priority queue delivers it first."""
    env = rabbit_env(worker_env, vhost, COMPAT_TEST_EXTRA_QUEUES="prio")
    key = f"{env['COMPAT_TEST_NS']}:order:{uuid.uuid4().hex}"
    with app_copy(env) as tasks:
        proc = start_worker(
            env, "tests.compat.worker_app", threads=1, queues=["prio"], log=tmp_path / "w.log"
        )
        try:
            blocker = tasks.gate.apply_async((key + ":open",), queue="prio")
            time.sleep(0.5)  # the gate holds the one worker thread
            group(tasks.record_order.si(f"low{i}", key).set(queue="prio", priority=0) for i in range(3000))()
            assert tasks.app.broker.queue_counts("prio")[0] >= 2990  # the backlog waits in RabbitMQ
            high = tasks.record_order.apply_async(("high", key), queue="prio", priority=9)
            redis_client.set(key + ":open", 1, ex=600)
            assert high.get(timeout=30) == "high"
            assert blocker.get(timeout=10) is True
            purged = tasks.app.control.purge()
        finally:
            stop_worker(proc)
            tasks.app.broker.close()
    order = [item.decode() for item in redis_client.lrange(key, 0, -1)]
    redis_client.delete(key, key + ":open")
    # Only what the worker had prefetched before the gate opened may run first (prefetch 4 x 1 thread).
    assert "high" in order[:6], order[:10]
    assert purged > 2000


def test_a_send_while_rabbitmq_is_unreachable_is_an_operational_error(worker_env):
    with socket_free_port() as port:
        env = rabbit_env(worker_env, f"amqp://guest:guest@127.0.0.1:{port}/nowhere")
        with app_copy(env) as tasks:
            with pytest.raises(OperationalError, match=r"Cannot reach the broker at amqp://\*\*\*@127.0.0.1"):
                tasks.add.delay(1, 2)


class socket_free_port:  # noqa: N801 - a context manager used like a function
    """A loopback port nothing listens on, for the block."""

    def __enter__(self) -> int:
        from tests.rabbitmq_support import free_port

        return free_port()

    def __exit__(self, *exc) -> None:
        return None


def test_garbage_on_the_queue_is_dead_lettered_and_the_worker_lives(worker_env, vhost, tmp_path):
    env = rabbit_env(worker_env, vhost, COMPAT_TEST_EXTRA_QUEUES="crash")
    with app_copy(env) as tasks:
        store = store_for(tasks.app)
        worker = start_worker(
            env, "tests.compat.worker_app", threads=1, queues=["crash"], log=tmp_path / "w.log"
        )
        try:
            before = store.count()
            connection = pika.BlockingConnection(tasks.app.broker.parameters)
            channel = connection.channel()
            channel.basic_publish("", "crash", b"\xff not a message", pika.BasicProperties(delivery_mode=2))
            malformed = (
                b'{"queue_name": "crash", "actor_name": "tests.compat.worker_app.add", "args": [], '
                b'"kwargs": [1], "options": {}, "message_id": "m-1", "message_timestamp": 0}'
            )
            channel.basic_publish("", "crash", malformed)
            connection.close()
            assert tasks.add.apply_async((2, 2), queue="crash").get(timeout=20) == 4
            deadline = time.monotonic() + 10
            while store.count() < before + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert worker.poll() is None
            assert tasks.app.broker.get_queue_message_counts("crash") == (0, 0, 0)
        finally:
            stop_worker(worker)
            tasks.app.broker.close()
    reasons = sorted(record["reason"] for record in store.list(limit=2))
    assert reasons[0].startswith("malformed: ") and reasons[1].startswith("undecodable")


def test_queue_declared_with_other_arguments_is_a_clear_error(worker_env, vhost):
    from compat.exceptions import ImproperlyConfigured

    with app_copy(rabbit_env(worker_env, vhost)) as tasks:
        tasks.add.delay(1, 1)  # declares "default" as a classic queue with x-max-priority 10
        tasks.app.broker.close()
    with app_copy(rabbit_env(worker_env, vhost, COMPAT_TEST_QUEUE_TYPE="quorum")) as tasks:
        with pytest.raises(
            ImproperlyConfigured, match=r"RabbitMQ queue 'default' exists with other arguments"
        ):
            tasks.add.delay(1, 1)
        tasks.app.broker.close()


@pytest.mark.skipif(
    not can_start_private(), reason="rabbitmq-server is not installed: no private node to restart"
)
def test_broker_restart_under_load_loses_nothing_confirmed(worker_env, redis_client, tmp_path):
    """A private node (never the machine's) restarted while a worker drains 200 confirmed tasks: sends
    while it is down are OperationalError, the worker reconnects, every confirmed task completes."""
    private = PrivateRabbit(tmp_path / "node").start()
    try:
        env = rabbit_env(worker_env, private.url(private.add_vhost()), COMPAT_TEST_EXTRA_QUEUES="load")
        key = f"{env['COMPAT_TEST_NS']}:load:{uuid.uuid4().hex}"
        with app_copy(env) as tasks:
            worker = start_worker(
                env, "tests.compat.worker_app", threads=4, queues=["load"], log=tmp_path / "w.log"
            )
            try:
                sent = group(tasks.slow_once.si(f"{key}:{i}", 0.02).set(queue="load") for i in range(200))()
                started(redis_client, f"{key}:0:done", timeout=30)
                private.stop()
                with pytest.raises(OperationalError):
                    tasks.add.delay(1, 1)
                private.start()
                assert len(sent.get(timeout=120)) == 200
                assert tasks.add.apply_async((2, 3), queue="load").get(timeout=30) == 5  # producers reconnect
                assert worker.poll() is None
            finally:
                stop_worker(worker)
                tasks.app.broker.close()
        ran = {i for i in range(200) if redis_client.llen(f"{key}:{i}:done")}
        assert ran == set(range(200))
    finally:
        private.stop()

"""``broker_transport_options['queue_order_strategy']`` on a real worker: with ``priority`` a worker
consuming ``-Q qa qb`` drains qa's backlog before it takes anything from qb, as kombu's Redis transport
does; with the default ``round_robin`` it serves both side by side."""

from __future__ import annotations

import uuid

import pytest
import redis

from compat import Celery
from compat.exceptions import ImproperlyConfigured
from tests.helpers import wait_for

from .conftest import start_worker, stop_worker

BACKLOG = 20


def run_backlog(worker_env, tmp_path, strategy: str) -> list[str]:
    """qb's backlog sent first, then qa's; a 2-thread worker on ``-Q qa qb``: the order the tasks ran."""
    ns = f"test:{uuid.uuid4().hex[:10]}"
    env = {**worker_env, "COMPAT_TEST_NS": ns, "COMPAT_TEST_QUEUE_ORDER": strategy}
    sender = Celery("order-sender", broker=env["COMPAT_TEST_BROKER"], set_as_current=False,
                    broker_namespace=ns, task_routes={"order.a": "qa", "order.b": "qb"})
    for n in range(BACKLOG):
        sender.send_task("order.b", (n,))
    for n in range(BACKLOG):
        sender.send_task("order.a", (n,))
    client = redis.Redis.from_url(env["COMPAT_TEST_BROKER"])
    log = tmp_path / f"{strategy}.log"
    proc = start_worker(env, "tests.compat.queue_order_app", threads=2, log=log, queues=["qa", "qb"])
    try:
        wait_for(lambda: client.llen(f"{ns}:ran") == 2 * BACKLOG, 60, "every task to run")
    finally:
        stop_worker(proc)
    ran = [item.decode() for item in client.lrange(f"{ns}:ran", 0, -1)]
    client.delete(*client.keys(f"{ns}:*"))
    return ran


def test_priority_drains_the_first_listed_queue_first(worker_env, tmp_path):
    ran = run_backlog(worker_env, tmp_path, "priority")
    assert sorted(ran[:BACKLOG]) == sorted(f"a{n}" for n in range(BACKLOG)), ran


def test_round_robin_serves_the_queues_side_by_side(worker_env, tmp_path):
    ran = run_backlog(worker_env, tmp_path, "round_robin")
    assert any(item.startswith("b") for item in ran[:BACKLOG]), ran


def test_an_unknown_strategy_is_an_error_when_the_app_is_finalized():
    app = Celery("order", broker="redis://127.0.0.1:1/0", set_as_current=False,
                 broker_transport_options={"queue_order_strategy": "fastest"})
    with pytest.raises(ImproperlyConfigured, match="queue_order_strategy"):
        _ = app.broker


def test_priority_orders_by_step_first_then_queue_as_kombus_brpop(redis_url, redis_namespace):
    """kombu's BRPOP keys are ``qa, qb, qa.p3, qb.p3, ...``: a later queue's top-lane message is taken
    while an earlier queue has only lower-priority ones, and not its own lower-priority ones."""
    app = Celery("order-lanes", broker=redis_url, set_as_current=False,
                 broker_namespace=redis_namespace.rstrip(":"),
                 broker_transport_options={"queue_order_strategy": "priority"})
    broker = app.broker
    order = broker.queue_order
    order.order, order.rank = ["qa", "qb"], {"qa": 0, "qb": 1}  # what a worker on -Q qa qb sets at boot
    for queue, priority in (("qa", 9), ("qb", 0), ("qb", 9)):
        app.send_task(f"order.{queue[1]}", (priority,), queue=queue, priority=priority)
    qa, qb = broker.consume("qa", prefetch=10), broker.consume("qb", prefetch=10)
    assert next(qb) is None  # qa's consumer has not looked yet: it may have work at the top step
    first_a = next(qa)
    assert list(first_a.args) == [9]
    assert list(next(qb).args) == [0]  # qa has nothing above step 9: qb's top lane goes before qa.p9 ...
    assert next(qb) is None  # ... but not qb.p9, while qa still had work at step 9
    qa.ack(first_a)
    assert next(qa) is None  # qa is empty now
    assert list(next(qb).args) == [9]
    app.close()


@pytest.mark.parametrize(
    ("strategy", "given", "expected"),
    [
        ("priority", ["qc", "qa", "qb"], ["qc", "qa", "qb"]),
        ("priority", None, ["qb", "qa", "qc"]),  # no -Q: the default queue first, then by name
        ("sorted", ["qc", "qa", "qb"], ["qa", "qb", "qc"]),
    ],
)
def test_the_queue_order_is_the_command_lines_or_by_name(strategy, given, expected):
    from compat.brokers.redis.queue_order import ordered

    assert ordered(strategy, given, {"qa", "qb", "qc"}, default_queue="qb") == expected

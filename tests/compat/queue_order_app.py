"""Two queues and a task on each that records its run, for the ``queue_order_strategy`` test's worker.

Broker, namespace and strategy come from the environment (``COMPAT_TEST_BROKER``, ``COMPAT_TEST_NS``,
``COMPAT_TEST_QUEUE_ORDER``).
"""

from __future__ import annotations

import os

from compat import Celery

app = Celery("queue_order", broker=os.environ["COMPAT_TEST_BROKER"], set_as_current=False)
STRATEGY = os.environ.get("COMPAT_TEST_QUEUE_ORDER", "round_robin")
app.conf.update(
    broker_namespace=os.environ["COMPAT_TEST_NS"],
    task_default_queue="qa",
    task_routes={"order.a": "qa", "order.b": "qb"},
    broker_transport_options={"queue_order_strategy": STRATEGY},
)
RAN = f"{os.environ['COMPAT_TEST_NS']}:ran"


@app.task(name="order.a")
def a(n):
    app.broker.client.rpush(RAN, f"a{n}")


@app.task(name="order.b")
def b(n):
    app.broker.client.rpush(RAN, f"b{n}")

"""The facade's stores take their Redis from the result backend, never from the broker (issue 15, item 2).

A broker without a Redis client (here the in-memory one, a broker double with no ``.client``) still keeps
dead letters, alert digests and task metrics in the result backend's Redis.
"""

from __future__ import annotations

import time
import uuid

import pytest
from dramatiq import Worker

from compat import Celery, states
from compat.deadletters import store_for
from compat.metrics import metrics_key
from compat.stores import redis_for


@pytest.fixture
def app(redis_url, redis_client):
    ns = f"stores:{uuid.uuid4().hex[:8]}"
    app = Celery(
        "stores",
        broker="memory://",
        backend=redis_url,
        set_as_current=False,
        broker_namespace=ns,
        result_namespace=ns + "-res",
        task_default_queue="q",
        worker_metrics_interval=0.05,
    )
    yield app
    keys = list(redis_client.scan_iter(match=ns + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def run(app):
    broker = app.broker
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()

    def drain():
        for queue in list(broker.queues):
            broker.join(queue, fail_fast=False, timeout=10_000)
        worker.join()

    yield drain
    worker.stop()
    broker.flush_all()


def test_a_broker_without_a_redis_client_keeps_dead_letters_on(app, run, redis_client):
    assert not hasattr(app.broker, "client")

    @app.task
    def broken(x):
        raise ValueError(f"bad {x}")

    result = broken.delay(7)
    run()
    assert result.state == states.FAILURE
    store = store_for(app)
    assert store is not None
    record = store.get(result.id)
    assert record["task"] == broken.name and record["args"] == [7] and record["reason"] == "failed"
    assert "ValueError: bad 7" in record["traceback"]
    assert redis_client.zscore(f"{app.conf.broker_namespace}:deadletters", result.id) is not None


def test_the_alert_digest_of_a_broker_without_redis_lives_in_the_result_backend(app, run, redis_client):
    app.conf.alert_webhook_url = "http://127.0.0.1:9/unreachable"  # delivery fails, logged, never raised

    @app.task
    def broken(x):
        raise ValueError(f"bad {x}")

    # Not drained: the digest task waits ``alert_digest_seconds`` on the delay queue.
    for x in (1, 2):
        broken.delay(x).get(propagate=False, timeout=10)
    ns = app.conf.broker_namespace
    assert redis_client.exists(f"{ns}:alerts:window")  # the first failure opened the window
    assert redis_client.llen(f"{ns}:alerts:pending") == 1  # the second waits for the digest


def test_a_dead_letter_requeued_on_a_broker_without_redis_runs_again(app, run):
    calls = []

    @app.task
    def once_broken(x):
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first time")
        return x

    result = once_broken.delay(3)
    run()
    assert result.state == states.FAILURE
    assert store_for(app).requeue(result.id, app)
    run()
    assert app.AsyncResult(result.id).get(timeout=5) == 3 and calls == [3, 3]
    assert store_for(app).get(result.id) is None


def test_task_metrics_of_a_broker_without_redis_go_to_the_result_backend(app, run, redis_client):
    @app.task
    def ok():
        return 1

    ok.delay()
    run()
    totals, field = metrics_key(app.conf.broker_namespace, "totals"), f"{ok.name}|n|SUCCESS"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not redis_client.hget(totals, field):
        time.sleep(0.05)
    assert int(redis_client.hget(totals, field)) == 1
    assert redis_client.zcard(metrics_key(app.conf.broker_namespace, "workers")) == 1


def test_stores_share_the_result_backends_connection_not_the_brokers(redis_url):
    other_db = redis_url.rsplit("/", 1)[0] + "/1"
    app = Celery("split", broker=other_db, backend=redis_url, set_as_current=False)
    assert redis_for(app) is app.backend.client
    assert store_for(app).client is app.backend.client
    assert app.broker.client.connection_pool.connection_kwargs["db"] == 1
    assert redis_for(app).connection_pool.connection_kwargs["db"] == 0


def test_without_a_redis_result_backend_the_stores_use_the_broker_url_on_their_own_connection(redis_url):
    app = Celery("nobackend", broker=redis_url, set_as_current=False)
    client = redis_for(app)
    assert client is not None and client is not app.broker.client
    assert client.ping() and redis_for(app) is client


def test_without_any_redis_there_are_no_stores():
    app = Celery("inmemory", broker="memory://", backend="cache+memory://", set_as_current=False)
    assert redis_for(app) is None and store_for(app) is None


def test_a_retry_the_broker_cannot_take_fails_the_task_into_the_dead_letters(app, run):
    from compat.exceptions import OperationalError

    @app.task(bind=True, max_retries=3, default_retry_delay=0)
    def flaky(self):
        raise self.retry(exc=KeyError("later"))

    broker, sends = app.broker, []
    enqueue_many = broker.enqueue_many

    def broker_goes_down_after_the_first_send(items, **kwargs):
        sends.append(len(items))
        if len(sends) > 1:
            raise OperationalError("Cannot reach the broker at memory://")
        return enqueue_many(items, **kwargs)

    broker.enqueue_many = broker_goes_down_after_the_first_send
    result = flaky.delay()
    run()
    assert sends == [1, 1]  # the call, then the retry the middleware tried to send
    assert result.state == states.FAILURE and isinstance(result.result, OperationalError)
    record = store_for(app).get(result.id)
    assert record["reason"] == "failed" and "OperationalError" in record["exception_repr"]

"""``broker_pool_limit`` and ``broker_pool_acquire_timeout`` on the Redis broker, as Celery means them.

A process publishes on at most ``broker_pool_limit`` connections (10 when unset); a publisher that finds
them all in use waits, and after ``broker_pool_acquire_timeout`` seconds gets ``OperationalError``; with
None or 0 each publish connects and closes its connection. Consumers are not limited.

A private Redis is paused for writes (``CLIENT PAUSE ... WRITE``) so that every publish stays in flight
on its connection while the test counts the server's clients (``CLIENT LIST``).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import pytest
import redis
from dramatiq import Worker

from compat import Celery
from compat.exceptions import OperationalError
from tests.helpers import errors_in_threads, wait_for


@pytest.fixture
def admin(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    yield client
    client.execute_command("CLIENT", "UNPAUSE")
    client.close()


def make_app(private_redis, **settings) -> Celery:
    ns = f"pool:{uuid.uuid4().hex[:8]}"
    return Celery(
        "pool", broker=private_redis.url, set_as_current=False, broker_namespace=ns, task_default_queue="q",
        **settings,
    )


def clients(admin) -> set[int]:
    """Ids of the server's client connections, the test's own left out."""
    own = admin.client_id()
    return {entry["id"] for entry in admin.client_list()} - {own}


@contextlib.contextmanager
def paused(admin):
    """Writes (the enqueue script) wait on the server until the block ends."""
    admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
    try:
        yield
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")


def publishers(app: Celery, count: int) -> tuple[list[threading.Thread], list[BaseException]]:
    errors: list[BaseException] = []

    def send() -> None:
        try:
            app.send_task("pool.noop")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(count)]
    return threads, errors


def queued(admin, app: Celery) -> int:
    return admin.llen(f"{app.conf.broker_namespace}:q")


@pytest.mark.parametrize("limit", [None, 3], ids=["default-10", "limit-3"])
def test_publishers_share_at_most_broker_pool_limit_connections(private_redis, admin, limit):
    settings = {} if limit is None else {"broker_pool_limit": limit}
    app = make_app(private_redis, **settings)
    expected = limit or 10
    _ = app.broker
    before = clients(admin)
    threads, errors = publishers(app, expected + 4)
    with paused(admin):
        for thread in threads:
            thread.start()
        wait_for(lambda: len(clients(admin) - before) >= expected, 10, f"{expected} publishing connections")
        time.sleep(0.3)  # the 4 others had every chance to open connections of their own
        assert len(clients(admin) - before) == expected
        assert queued(admin, app) == 0  # every publish is in flight or waiting
    for thread in threads:
        thread.join(10)
    assert not errors and queued(admin, app) == expected + 4  # the waiting ones were sent too
    assert len(clients(admin) - before) == expected  # kept for the next publishes
    app.close()


def test_a_publisher_waits_at_most_broker_pool_acquire_timeout(private_redis, admin):
    app = make_app(private_redis, broker_pool_limit=1, broker_pool_acquire_timeout=0.2)
    _ = app.broker
    before = clients(admin)
    threads, errors = publishers(app, 1)
    with paused(admin):
        threads[0].start()
        wait_for(lambda: clients(admin) - before, 10, "the one publishing connection")
        with pytest.raises(OperationalError) as raised:
            app.send_task("pool.noop")
    threads[0].join(10)
    message = str(raised.value)
    assert "broker_pool_limit=1" in message and "broker_pool_acquire_timeout" in message, message
    assert "0.2s" in message
    assert not errors and queued(admin, app) == 1  # the refused message was not sent
    app.close()


@pytest.mark.parametrize("limit", [None, 0])
def test_no_pool_connects_per_publish_without_a_limit(private_redis, admin, limit):
    """Celery's ``broker_pool_limit = None`` (or 0): no pool; every publish opens a connection, closed
    after it."""
    app = make_app(private_redis, broker_pool_limit=limit)
    _ = app.broker
    before = clients(admin)
    threads, errors = publishers(app, 12)
    with paused(admin):
        for thread in threads:
            thread.start()
        wait_for(lambda: len(clients(admin) - before) == 12, 10, "12 publishing connections")
    for thread in threads:
        thread.join(10)
    assert not errors and queued(admin, app) == 12
    wait_for(lambda: not clients(admin) - before, 10, "the publishing connections to close")
    app.send_task("pool.noop")
    assert queued(admin, app) == 13 and not clients(admin) - before
    app.close()


def test_consumers_are_not_limited_by_the_publishers_pool(private_redis, admin):
    """With the only publishing connection taken, a worker in the same process still fetches, runs and
    acknowledges its tasks, and moves a due countdown task to its queue (not a publish, as in Celery)."""
    ns = f"pool:{uuid.uuid4().hex[:8]}"
    app = Celery(
        "pool", broker=private_redis.url, backend=private_redis.url, set_as_current=False,
        broker_namespace=ns, result_namespace=ns + "-res", task_default_queue="q", broker_pool_limit=1,
        broker_pool_acquire_timeout=30,
    )

    run_while_the_publishing_slot_is_held(app)
    assert queued(admin, app) == 0
    app.close()


@pytest.mark.parametrize(
    "settings",
    [{"broker_pool_limit": -1}, {"broker_pool_limit": "10"}, {"broker_pool_acquire_timeout": "soon"}],
)
def test_a_pool_setting_that_means_nothing_is_an_error_when_the_app_is_finalized(private_redis, settings):
    from compat.exceptions import ImproperlyConfigured

    app = make_app(private_redis, **settings)
    with pytest.raises(ImproperlyConfigured, match=next(iter(settings))):
        _ = app.broker


def first_uses(read, threads: int = 8) -> list:
    """What ``read()`` returned in ``threads`` threads that all call it at the same moment."""
    seen: list = []
    assert errors_in_threads(lambda: seen.append(read()), threads, 10) == []
    return seen


def test_threads_that_first_send_at_once_share_one_broker_and_its_pool(private_redis):
    """The broker is made once per app: threads racing to first use it must not each make their own (each
    would have its own publishing pool, and the limit would not hold per process)."""
    app = make_app(private_redis, broker_pool_limit=2)
    seen = first_uses(lambda: app.broker)
    assert len(seen) == 8 and len({id(broker) for broker in seen}) == 1


def test_threads_that_first_read_results_at_once_share_one_store(private_redis, monkeypatch):
    """The result store is made once per app too (each racing thread would otherwise keep its own pool);
    its making is slowed down here, as a store whose first connection takes a while is."""
    import compat.app

    made = compat.app.store_from_url

    def slowly(*args, **kwargs):
        time.sleep(0.05)
        return made(*args, **kwargs)

    monkeypatch.setattr(compat.app, "store_from_url", slowly)
    app = make_app(private_redis)
    seen = first_uses(lambda: app.backend)
    assert len(seen) == 8 and len({id(store) for store in seen}) == 1


def run_while_the_publishing_slot_is_held(app) -> None:
    """Send three tasks and a countdown one, then run them on an in-process worker while the app's only
    publishing slot is held: consumers and the move of a due countdown task must not need it."""

    @app.task(name="pool.double")
    def double(x):
        return 2 * x

    results = [double.delay(n) for n in range(3)] + [double.apply_async((10,), countdown=0.5)]
    broker = app.broker
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    with broker.producers.hold():  # the one publishing connection is busy for the whole run
        worker.start()
        try:
            assert [r.get(timeout=20) for r in results] == [0, 2, 4, 20]
        finally:
            worker.stop()

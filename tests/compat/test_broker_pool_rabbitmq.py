"""``broker_pool_limit`` and ``broker_pool_acquire_timeout`` on the RabbitMQ broker, as Celery means them.

Dramatiq opens a pika connection for every thread that publishes; here a process publishes on at most
``broker_pool_limit`` connections, lent to one publishing thread at a time. The connections are counted by
the server (``rabbitmqctl list_connections``) in a vhost of this module's own.
"""

from __future__ import annotations

import pytest

from compat import Celery
from compat.exceptions import OperationalError
from tests.compat.test_broker_pool import run_while_the_publishing_slot_is_held
from tests.helpers import errors_in_threads, wait_for
from tests.rabbitmq_support import closing_apps, node_and_vhost


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    yield from node_and_vhost(tmp_path_factory)


def connections(rabbit) -> int:
    found, vhost = rabbit
    listed = found.ctl("list_connections", "vhost", "--quiet", "--no-table-headers").split()
    return listed.count(vhost)


@pytest.fixture
def make_app(rabbit):
    found, vhost = rabbit

    def build(**settings) -> Celery:
        # No Redis here: these tests count RabbitMQ connections only, without the Redis stores.
        return Celery("rmq-pool", broker=found.url(vhost), set_as_current=False, task_default_queue="pool",
                      stores_url=False, **settings)

    with closing_apps(build) as make:
        yield make
    wait_for(lambda: connections(rabbit) == 0, 30, "the test's connections to close")


def publish_from_threads(app: Celery, threads: int, each: int) -> list[BaseException]:
    return errors_in_threads(lambda: [app.send_task("pool.noop") for _ in range(each)], threads)


def test_eight_publishing_threads_share_broker_pool_limit_connections(rabbit, make_app):
    app = make_app(broker_pool_limit=2)
    assert not publish_from_threads(app, 8, 25)
    assert 1 <= connections(rabbit) <= 2  # Dramatiq alone keeps one per thread: 8
    assert app.broker.queue_counts("pool")[0] == 200


def test_no_pool_closes_each_publishs_connection(rabbit, make_app):
    app = make_app(broker_pool_limit=None)
    assert not publish_from_threads(app, 4, 5)
    wait_for(lambda: connections(rabbit) == 0, 30, "every publishing connection to close")
    assert app.broker.queue_counts("pool")[0] == 20


def test_a_publisher_waits_at_most_broker_pool_acquire_timeout(make_app):
    app = make_app(broker_pool_limit=1, broker_pool_acquire_timeout=0.2)
    with app.broker.producers.hold(), pytest.raises(OperationalError) as raised:  # the one connection is busy
        app.send_task("pool.noop")
    assert "broker_pool_limit=1" in str(raised.value) and "broker_pool_acquire_timeout" in str(raised.value)
    app.send_task("pool.noop")  # free again
    assert app.broker.queue_counts("pool")[0] == 1


def test_consumers_are_not_limited_by_the_publishers_pool(make_app, redis_url, redis_namespace):
    """With the only publishing connection taken, a worker in the same process still runs its tasks and
    moves a due countdown task to its queue (its consumer thread's own connection, as in Celery)."""
    app = make_app(broker_pool_limit=1, broker_pool_acquire_timeout=30)
    app.conf.update(result_backend=redis_url, result_namespace=redis_namespace + "r")

    run_while_the_publishing_slot_is_held(app)

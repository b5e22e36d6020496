"""The RabbitMQ broker without workers: Celery's URL spellings, the seam (depths, purge, batches), and the
scheduler and dashboard reading through it. Real RabbitMQ, a vhost of this module's own."""

from __future__ import annotations

import ssl

import pytest

from compat import Celery, group
from compat.brokers.rabbitmq.urls import from_conf, parameters, split_urls
from compat.exceptions import ImproperlyConfigured
from tests.rabbitmq_support import rabbitmq_url  # noqa: F401 - the module's vhost


@pytest.mark.parametrize(
    ("url", "host", "port", "vhost", "user", "password"),
    [
        ("amqp://", "localhost", 5672, "/", "guest", "guest"),
        ("amqp://guest@localhost//", "localhost", 5672, "/", "guest", "guest"),
        ("amqp://u:p%40ss@rabbit:5673/prod", "rabbit", 5673, "prod", "u", "p@ss"),
        ("pyamqp://u:p@rabbit/%2Fteam", "rabbit", 5672, "/team", "u", "p"),
        ("amqp://rabbit/", "rabbit", 5672, "/", "guest", "guest"),
    ],
)
def test_celery_url_spellings(url, host, port, vhost, user, password):
    found = parameters(url)
    assert (found.host, found.port, found.virtual_host) == (host, port, vhost)
    assert (found.credentials.username, found.credentials.password) == (user, password)
    assert found.ssl_options is None


def test_amqps_and_broker_use_ssl_turn_tls_on():
    secure = parameters("amqps://rabbit/")
    assert secure.port == 5671 and secure.ssl_options is not None
    relaxed = parameters("amqp://rabbit:5671/", use_ssl={"cert_reqs": ssl.CERT_NONE})
    assert relaxed.ssl_options.context.verify_mode == ssl.CERT_NONE
    with pytest.raises(ImproperlyConfigured, match="unknown option"):
        parameters("amqp://rabbit/", use_ssl={"verify": False})


def test_failover_urls_in_order_and_bad_urls_refused():
    assert split_urls("amqp://a//;amqp://b//") == ["amqp://a//", "amqp://b//"]
    app = Celery("failover", broker="amqp://a//;amqp://b//", backend="cache+memory://", set_as_current=False)
    assert [p.host for p in from_conf(app.conf, app.conf.broker_url)] == ["a", "b"]
    with pytest.raises(ImproperlyConfigured, match="unknown option"):
        parameters("amqp://rabbit/?frame_max=1")
    app.conf.broker_failover_strategy = "priority"
    with pytest.raises(ImproperlyConfigured, match="broker_failover_strategy"):
        from_conf(app.conf, app.conf.broker_url)


@pytest.fixture
def app(rabbitmq_url, redis_url, redis_namespace):  # noqa: F811
    app = Celery("rmq-seam", broker=rabbitmq_url, backend=redis_url, set_as_current=False)
    app.conf.update(broker_namespace=redis_namespace + "b", result_namespace=redis_namespace + "r",
                    task_default_queue="seam")
    yield app
    app.broker.flush_all()
    app.broker.close()


def test_depths_purge_and_a_batch_in_one_transaction(app):
    add = app.task(lambda x, y: x + y, name="seam.add")
    group(add.s(i, i) for i in range(25)).apply_async()
    add.apply_async((1, 1), countdown=60)
    (depth,) = app.broker.inspector().depths(["seam"], dead={"seam": 2})
    assert (depth.ready, depth.delayed, depth.in_progress, depth.dead) == (25, 1, 0, 2)
    assert app.control.purge() == 26
    assert app.broker.inspector().depths(["seam"])[0].ready == 0


def test_priorities_map_to_amqp_priorities_capped_by_the_queue_maximum(app):
    app.conf.task_queue_max_priority = 5
    broker = app.broker
    assert broker.max_priority == 5
    message = app.build_message("seam.any", priority=9)[0]
    assert broker._priority(message) == 5
    assert broker._priority(app.build_message("seam.any")[0]) is None


def test_dashboard_queue_stats_and_scheduler_use_the_stores_redis(app, redis_url):
    from compat.monitoring import queue_stats
    from scheduler.cli import build_daemon

    app.send_task("seam.remote", args=[1])  # as a schedule fires it
    stats = {row["name"]: row for row in queue_stats(app)}
    assert stats["seam"]["ready"] == 1
    daemon = build_daemon(app, [])
    assert daemon.lease.client.connection_pool is app.backend.client.connection_pool

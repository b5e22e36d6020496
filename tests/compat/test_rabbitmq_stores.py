"""An ``amqp://`` broker whose result backend is not Redis (``django-db``, ``django-cache``, memory, none).

RabbitMQ keeps none of the facade's own stores (control, revocations, dead letters, alerts, metrics, the
scheduler's lease): without a Redis for them the app is refused when its broker is built, with what is
missing and how to fix it; ``stores_url`` names that Redis and everything works; ``stores_url = False``
runs without them, said once. The real-worker test's results are in ``django-cache`` (on Django's Redis
cache, which is not a Redis result store: ``compat.stores.redis_for`` decides the same for ``django-db``).
Issue 19.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from compat import Celery
from compat.deadletters import store_for
from compat.exceptions import ImproperlyConfigured
from compat.stores import redis_for
from tests.compat.brokers import app_copy, rabbit_env
from tests.compat.conftest import start_worker, stop_worker
from tests.rabbitmq_support import node

#: nothing listens there: building the broker does not connect
NOWHERE = "amqp://guest:guest@127.0.0.1:1/nowhere"


@pytest.fixture
def locmem_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.mark.parametrize("backend", ["django-cache", "cache+memory://", None])
def test_without_a_redis_for_the_stores_the_app_is_refused_saying_what_and_how(backend, locmem_cache):
    app = Celery("no-stores", broker=NOWHERE, backend=backend, set_as_current=False)
    with pytest.raises(ImproperlyConfigured) as refused:
        _ = app.broker
    text = str(refused.value)
    assert f"broker amqp:// with result_backend {backend!r}" in text
    for missing in ("app.control and inspect", "revocations", "dead letters", "metrics", "leader lease"):
        assert missing in text
    assert "CELERY_STORES_URL" in text and "redis://" in text and "stores_url=False" in text


def test_stores_url_must_be_a_redis_url():
    app = Celery("bad-stores", broker=NOWHERE, backend="cache+memory://", set_as_current=False)
    app.conf.stores_url = "amqp://guest@127.0.0.1//"
    with pytest.raises(ImproperlyConfigured, match="stores_url must be a redis://"):
        _ = app.broker


def test_stores_url_false_runs_without_them_and_says_so(locmem_cache, caplog):
    app = Celery("off", broker=NOWHERE, backend="django-cache", set_as_current=False)
    app.conf.stores_url = False
    with caplog.at_level(logging.WARNING, logger="compat.broker"):
        _ = app.broker
    assert "stores_url=False: app.control and inspect" in caplog.text and "are off" in caplog.text
    assert redis_for(app) is None
    with pytest.raises(RuntimeError, match="app.control needs a Redis"):
        app.control.ping(timeout=0.1)
    app.broker.close()


def test_with_stores_url_control_revocations_and_dead_letters_work(
    worker_env, redis_url, settings, tmp_path
):
    """A real worker on RabbitMQ with ``result_backend = "django-cache"`` (Django's Redis cache: not a
    Redis result store) and the facade's stores on ``stores_url``: results come back through the cache,
    the worker answers ``ping``, skips a task revoked from this process while it waited, and keeps a task
    that failed for good in the dead-letter store."""
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    # the same Django cache in this process and in the worker (threads.settings reads THREADS_REDIS_*)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"{prefix}cache",
            "OPTIONS": {"serializer": "threads.cache.JSONSerializer"},
        }
    }
    rabbit = node(tmp_path)
    vhost = rabbit.add_vhost()
    env = rabbit_env(
        worker_env,
        rabbit.url(vhost),
        COMPAT_TEST_BACKEND="django-cache",
        COMPAT_TEST_STORES=redis_url,
        COMPAT_TEST_EXTRA_QUEUES="stores",
        THREADS_REDIS_URL=redis_url,
        THREADS_REDIS_PREFIX=prefix,
    )
    key = f"{env['COMPAT_TEST_NS']}:stores:{uuid.uuid4().hex}"
    try:
        with app_copy(env) as tasks:
            app = tasks.app
            assert getattr(app.backend, "client", None) is None  # the result store is not Redis
            client = redis_for(app)
            proc = start_worker(env, "tests.compat.worker_app", threads=1, queues=["stores"],
                                log=tmp_path / "worker.log")
            try:
                assert tasks.add.apply_async((2, 3), queue="stores").get(timeout=30) == 5
                # 6 s: longer than redis-py 8's socket timeout, which one wait for replies must not outlast
                replies = app.control.ping(timeout=6)
                assert [list(reply.values()) for reply in replies] == [[{"ok": "pong"}]]
                tasks.gate.apply_async((key + ":open",), queue="stores")  # holds the one thread
                doomed = tasks.record_order.apply_async(("revoked", key), queue="stores")
                doomed.revoke()
                after = tasks.record_order.apply_async(("after", key), queue="stores")
                failed = tasks.fail.apply_async(("kaput",), queue="stores")
                client.set(key + ":open", 1, ex=600)
                assert after.get(timeout=60) == "after"
                with pytest.raises(ValueError, match="kaput"):
                    failed.get(timeout=60)
                deadline = time.monotonic() + 30
                while store_for(app).get(failed.id) is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                order = [item.decode() for item in client.lrange(key, 0, -1)]
                letter = store_for(app).get(failed.id)
                assert doomed.state == "REVOKED"
            finally:
                stop_worker(proc)
                app.broker.close()
    finally:
        rabbit.delete_vhost(vhost)
    client.delete(key, key + ":open")
    assert order == ["after"]  # the revoked task never ran; the one after it did
    assert letter is not None and letter["task"] == tasks.fail.name and letter["args"] == ["kaput"]

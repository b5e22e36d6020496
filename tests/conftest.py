"""Shared fixtures: a real Redis (never flushed), per-test key namespaces."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from threads.redis_server import PrivateRedis

# The worker processes the tests start (they inherit this environment) re-check their stop flag every
# 200 ms instead of Dramatiq's 1 s: each graceful stop is ~0.9 s shorter, and the suite stops ~100 of them.
# Nothing else reads it (the consumers' idle waits are compat's own).
os.environ.setdefault("dramatiq_worker_timeout", "200")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """URL of a reachable Redis: REDIS_URL / CELERY_BROKER_URL, else a private one for the session."""
    configured = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")
    if configured:
        yield configured
        return
    with PrivateRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A redis-server of this test module's own, for tests that count its clients or connections, take it
    away, or need databases nobody else writes."""
    with PrivateRedis(tmp_path_factory.mktemp("private-redis")) as server:
        yield server


@pytest.fixture
def redis_client(redis_url):
    """A redis-py client on `redis_url`."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def redis_namespace(redis_client):
    """A unique key prefix for this test; only keys under it are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        redis_client.delete(*keys)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), a test module runs whole on one
    process, so its module-scoped workers and servers start once; the conformance suite is one group, so
    its session stacks (a Celery and a compat worker, RabbitMQ's) start once. Tests of one module keep
    their order."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        group = "conformance" if module.startswith("tests/conformance/") else module
        item.add_marker(pytest.mark.xdist_group(group))
    seen: set[str] = set()
    repeated = sorted({item.nodeid for item in items if item.nodeid in seen or seen.add(item.nodeid)})
    if repeated:  # pytest-xdist schedules by node id: a repeated one would run once, the others never
        raise pytest.UsageError(f"tests share a node id (give each its own): {repeated[:5]}")

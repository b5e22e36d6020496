"""Shared fixtures: a real Redis (never flushed), per-test key namespaces."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from threads.redis_server import PrivateRedis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """URL of a reachable Redis: REDIS_URL / CELERY_BROKER_URL, else a private one for the session."""
    configured = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")
    if configured:
        yield configured
        return
    with PrivateRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


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

"""API throttles on real Redis, shared across processes; 429 with Retry-After (issue 14, item 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.threads.support import client_for, make_user
from threads.models import FactCheck, Post

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
OTHER_PROCESS = """
import django, json
django.setup()
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from threads.api.throttles import AuthUsernameThrottle
raw = APIRequestFactory().post("/api/auth/token", {"username": "shared", "password": "x"}, format="json")
print(json.dumps(AuthUsernameThrottle().allow_request(Request(raw, parsers=[JSONParser()]), None)))
"""


@pytest.fixture
def rates(domain):
    """Set throttle rates for one test (DRF reloads its settings; the throttles read them per request)."""

    def use(**rates):
        domain.REST_FRAMEWORK = {
            **domain.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"auth": "1000/min", "auth_username": "1000/min",
                                       "fact_check": "1000/min", **rates},
        }

    return use


def login(username: str, password: str = "wrong-password", ip: str = "198.51.100.7", **extra):
    credentials = {"username": username, "password": password}
    return client_for().post("/api/auth/token", credentials, format="json", REMOTE_ADDR=ip, **extra)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"].startswith("Request was throttled.")


def test_300_wrong_passwords_meet_a_429_at_the_default_rate(eager, domain):
    make_user("victim")
    statuses = [login("victim").status_code for _ in range(300)]
    assert statuses[:10] == [400] * 10  # auth_username: 10/min by default
    assert set(statuses[10:]) == {429}
    assert_throttled(login("victim"))


def test_per_username_holds_across_addresses_and_spellings(eager, rates):
    rates(auth_username="3/min")
    make_user("victim")
    for i in range(3):
        assert login("victim", ip=f"198.51.100.{i + 1}").status_code == 400
    assert_throttled(login("VICTIM", ip="203.0.113.50"))
    assert_throttled(login("ｖｉｃｔｉｍ", ip="203.0.113.51"))
    assert login("someone-else", ip="203.0.113.52").status_code == 400  # another name is not throttled


def test_per_address_holds_across_usernames_and_a_forged_forwarded_for(eager, rates):
    rates(auth="5/min")
    for i in range(5):
        assert login(f"name{i}").status_code == 400
    assert_throttled(login("fresh-name"))
    assert_throttled(login("other-name", HTTP_X_FORWARDED_FOR="192.0.2.99"))  # not trusted (NUM_PROXIES=0)
    assert login("other-name", ip="198.51.100.8").status_code == 400


def test_register_is_throttled_per_address_and_username(eager, rates):
    rates(auth="3/min")
    for i in range(3):
        payload = {"username": f"reg{i}", "email": f"reg{i}@example.com", "password": "pl4ne-Tree-x"}
        assert client_for().post("/api/auth/register", payload, format="json").status_code == 201
    payload = {"username": "reg9", "email": "reg9@example.com", "password": "pl4ne-Tree-x"}
    assert_throttled(client_for().post("/api/auth/register", payload, format="json"))


def test_fact_checks_are_throttled_per_user(eager, rates, django_capture_on_commit_callbacks):
    rates(fact_check="3/min")
    author, other = make_user(), make_user()
    post = Post.objects.create(author=author, content="The earth is flat")
    # Fact checks are sent through the outbox once the request's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert client_for(author).post(f"/api/posts/{post.pk}/fact-check").status_code == 202
        assert_throttled(client_for(author).post(f"/api/posts/{post.pk}/fact-check"))
        assert client_for(other).post(f"/api/posts/{post.pk}/fact-check").status_code == 202
    assert FactCheck.objects.filter(content_id=post.pk).count() == 1  # one row per content, re-checked


def test_the_default_fact_check_rate_stops_a_burst(eager):
    author = make_user()
    post = Post.objects.create(author=author, content="The earth is flat")
    statuses = [client_for(author).post(f"/api/posts/{post.pk}/fact-check").status_code for _ in range(20)]
    assert statuses == [202] * 5 + [429] * 15


def test_throttle_state_is_in_redis_and_seen_by_another_process(eager, rates, redis_url, redis_namespace):
    """Another web process (its own interpreter, settings from the environment) sees the same history."""
    rates(auth_username="2/min")
    make_user("shared")
    assert login("shared").status_code == 400 and login("shared").status_code == 400
    client = cache._cache.get_client()
    keys = [key for key in client.keys(f"{redis_namespace}*") if b"throttle_auth_username_" in key]
    assert len(keys) == 1 and len(json.loads(client.get(keys[0]))) == 2  # JSON, never pickle
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "threads.settings",
        "THREADS_REDIS_URL": redis_url,
        "THREADS_REDIS_PREFIX": redis_namespace,
        "THREADS_THROTTLE_AUTH_USERNAME": "2/min",
    }
    command = [sys.executable, "-c", OTHER_PROCESS]
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert json.loads(out.stdout.decode().strip().splitlines()[-1]) is False


def test_an_unreachable_cache_lets_requests_through(eager, domain):
    """Throttles fail open: a Redis outage must not turn logins into errors."""
    domain.CACHES = {"default": {**domain.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    make_user("during-outage", password="pl4ne-Tree-x")
    response = login("during-outage", password="pl4ne-Tree-x")
    assert response.status_code == 200 and response.json()["token"]

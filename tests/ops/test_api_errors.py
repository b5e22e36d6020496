"""Every answer under /ops/api/ is JSON, errors included, and bad input changes nothing."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from dramatiq.message import Message

import compat.app
from compat import Celery
from compat.deadletters import build_record, store_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]


@pytest.fixture
def app(redis_url, redis_client):
    previous = compat.app._current_app
    namespace = f"opserr:{uuid.uuid4().hex[:8]}"
    app = Celery("opserr", broker=redis_url, backend=redis_url)
    app.conf.update(broker_namespace=namespace, result_namespace=namespace + "-res", task_default_queue="q")
    yield app
    compat.app._current_app = previous
    keys = list(redis_client.scan_iter(match=namespace + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def dead(app):
    store = store_for(app)
    for index in range(2):
        message = Message(
            queue_name="q", actor_name="proj.tasks.a", args=(index,), kwargs={}, options={},
            message_id=f"d-{index}",
        )
        store.add(build_record(message, reason="failed", exception=ValueError("bad")))
    return store


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_user("ops-err", password="pw", is_staff=True))


def bulk(client, body: bytes):
    return client.post("/ops/api/deadletters/bulk/", data=body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "body must be a JSON object, not list"),
        (b"null", "body must be a JSON object, not NoneType"),
        (b'"requeue"', "body must be a JSON object, not str"),
        (b"42", "body must be a JSON object, not int"),
        (b"{", "body must be JSON"),
        (b"[" * 100_000, "body is nested too deeply"),
        (b'{"action": "purge", "task": 5}', "task must be a string"),
        (b'{"action": "purge", "queue": ["q"]}', "queue must be a string"),
        (b'{"action": "purge", "all": "yes"}', "all must be true or false"),
    ],
)
def test_bulk_refuses_bodies_that_are_not_a_selection(client, staff, dead, body, message):
    response = bulk(client, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": message}
    assert dead.count() == 2  # nothing purged or requeued


def test_a_wrong_method_is_a_json_405_with_allow(client, staff, dead):
    response = client.get("/ops/api/deadletters/bulk/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json() == {"error": "method GET not allowed"}
    response = client.post("/ops/api/overview")
    assert response.status_code == 405 and response["Allow"] == "GET" and "error" in response.json()


def test_unknown_paths_under_the_api_are_json_404s(client, staff):
    for path in ("/ops/api/nope", "/ops/api/deadletters/x/explode/", "/ops/api/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"].startswith("no such endpoint"), path


def test_unknown_ids_are_json_404s(client, staff, app, dead):
    for method, path in [
        ("get", "/ops/api/deadletters/nope/"),
        ("post", "/ops/api/deadletters/nope/requeue/"),
        ("post", "/ops/api/deadletters/nope/purge/"),
        ("get", "/ops/api/tasks/nope"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 404 and "nope" in response.json()["error"], path


def test_a_body_over_the_upload_limit_is_a_json_413(client, staff, dead, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = bulk(client, b'{"action": "purge", "all": true, "pad": "' + b"x" * 2000 + b'"}')
    assert response.status_code == 413 and response.json() == {"error": "request body too large"}
    assert dead.count() == 2


def test_an_unreachable_store_is_a_json_503(client, staff, unused_port, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # it would override the app's URLs
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    previous = compat.app._current_app
    url = f"redis://127.0.0.1:{unused_port}/0"
    down = Celery("opsdown", broker=url, backend=url)
    try:
        for path in ("/ops/api/queues", "/ops/api/deadletters/", "/ops/api/overview"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.json() == {"error": "the task store is unreachable; try again"}
    finally:
        compat.app._current_app = previous
        assert down is not None


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

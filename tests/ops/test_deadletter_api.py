"""The dead-letter JSON API under /ops/api/deadletters/: staff only, list, show, requeue, purge."""

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
    """A compat app on the test Redis, made current for the duration of one test."""
    previous = compat.app._current_app
    namespace = f"djtest:{uuid.uuid4().hex[:8]}"
    app = Celery("djtest", broker=redis_url, backend=redis_url)
    app.conf.update(broker_namespace=namespace, result_namespace=namespace + "-res", task_default_queue="q")
    yield app
    compat.app._current_app = previous
    keys = list(redis_client.scan_iter(match=namespace + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def dead(app):
    """Three dead letters of two tasks."""
    store = store_for(app)
    for index, name in enumerate(["proj.tasks.a", "proj.tasks.a", "proj.tasks.b"]):
        message = Message(
            queue_name="q",
            actor_name=name,
            args=(index,),
            kwargs={},
            options={"retries": 2},
            message_id=f"id-{index}",
        )
        store.add(build_record(message, reason="failed", exception=ValueError(f"bad {index}")))
    return store


def test_api_is_staff_only(client, app, dead):
    assert client.get("/ops/api/deadletters/").status_code == 401
    User.objects.create_user("joe", password="pw")
    client.login(username="joe", password="pw")
    assert client.get("/ops/api/deadletters/").status_code == 403


def test_api_lists_shows_requeues_and_purges(client, app, dead):
    User.objects.create_user("ops", password="pw", is_staff=True)
    client.login(username="ops", password="pw")
    page = client.get("/ops/api/deadletters/?task=proj.tasks.a&limit=1").json()
    assert page["count"] == 3 and len(page["results"]) == 1 and "message" not in page["results"][0]
    assert client.get("/ops/api/deadletters/id-2/").json()["exception"]["exc_type"] == "ValueError"
    assert client.get("/ops/api/deadletters/nope/").status_code == 404
    assert client.post("/ops/api/deadletters/id-2/requeue/").json() == {"requeued": ["id-2"]}
    bad = client.post("/ops/api/deadletters/bulk/", data={"action": "purge"}, content_type="application/json")
    assert bad.status_code == 400
    done = client.post(
        "/ops/api/deadletters/bulk/", data={"action": "purge", "all": True}, content_type="application/json"
    )
    assert done.json() == {"purged": 2}


@pytest.fixture
def undecodable(dead):
    """Two records that cannot be requeued: garbage that never was a message, and a mangled message."""
    dead.add(build_record(None, reason="undecodable", raw=b"\xff not a message"))
    garbage_id = next(r["id"] for r in dead.iter() if r["reason"] == "undecodable")
    mangled = dict(dead.get("id-0"), id="mangled", message='{"queue_name": "q"}')
    dead.add(mangled)
    return [garbage_id, "mangled"]


def test_requeue_of_an_undecodable_dead_letter_is_a_clear_422(client, app, dead, undecodable):
    User.objects.create_user("ops", password="pw", is_staff=True)
    client.login(username="ops", password="pw")
    for task_id in undecodable:
        response = client.post(f"/ops/api/deadletters/{task_id}/requeue/")
        assert response.status_code == 422, task_id
        error = response.json()["error"]
        assert error.startswith(f"dead letter {task_id} cannot be requeued: ") and "\n" not in error
        assert dead.get(task_id) is not None  # kept
    assert "decoded" in client.post("/ops/api/deadletters/mangled/requeue/").json()["error"]


def test_requeue_all_requeues_what_it_can_and_reports_the_rest(client, app, dead, undecodable):
    User.objects.create_user("ops", password="pw", is_staff=True)
    client.login(username="ops", password="pw")
    response = client.post(
        "/ops/api/deadletters/bulk/", data={"action": "requeue", "all": True}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert sorted(body["requeued"]) == ["id-0", "id-1", "id-2"]
    assert sorted(failure["id"] for failure in body["failed"]) == sorted(undecodable)
    assert all("cannot be requeued" in failure["error"] for failure in body["failed"])
    assert app.broker.client.llen(f"{app.conf.broker_namespace}:q") == 3
    assert sorted(record["id"] for record in dead.iter()) == sorted(undecodable)

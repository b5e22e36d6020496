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

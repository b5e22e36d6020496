"""Big payloads are cut for the dashboard: a multi-megabyte argument must not make every poll that big."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from dramatiq.message import Message

from compat.deadletters import build_record, store_for
from ops.previews import DEFAULT_PREVIEW_CHARS, preview

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]

BIG = 3 * 1024 * 1024  # characters; the case was 20 MB


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_user("ops-big", password="pw", is_staff=True))


@pytest.fixture
def big_dead_letter(current_app):
    """A dead letter whose args, kwargs, exception and traceback are each megabytes long."""
    store = store_for(current_app)
    message = Message(
        queue_name="default", actor_name="tests.ops.ops_app.boom", args=("a" * BIG,),
        kwargs={"blob": "k" * BIG}, options={}, message_id="big-dead-letter",
    )
    record = build_record(message, reason="failed", exception=ValueError("e" * BIG), traceback_text="t" * BIG)
    store.add(record)
    yield "big-dead-letter"
    store.remove("big-dead-letter")


def test_preview_marks_what_it_cut():
    assert preview("short", 10) == "short"
    assert preview("x" * 100, 10) == "x" * 10 + "… [cut: 100 characters in all]"
    cut = preview(["y" * 100], 10)
    assert cut == {"truncated": True, "chars": 104, "preview": '["yyyyyyyy'}
    assert preview({"a": 1}, 10) == {"a": 1} and preview(12345678901234, 5) == 12345678901234


def test_overview_and_dead_letter_list_stay_small(client, current_app, staff, ran, big_dead_letter):
    response = client.get("/ops/api/overview")
    assert response.status_code == 200 and len(response.content) < 200_000
    record = next(r for r in response.json()["dead_letters"]["results"] if r["id"] == big_dead_letter)
    assert record["args"]["truncated"] is True and record["args"]["chars"] > BIG
    assert len(record["args"]["preview"]) == DEFAULT_PREVIEW_CHARS
    assert record["kwargs"]["truncated"] is True
    assert record["traceback"].endswith(f"… [cut: {BIG} characters in all]")
    assert len(record["exception_repr"]) < DEFAULT_PREVIEW_CHARS + 100
    listing = client.get("/ops/api/deadletters/")
    assert len(listing.content) < 200_000
    page = client.get("/ops/")
    assert page.status_code == 200 and len(page.content) < 300_000


def test_detail_endpoints_cut_unless_asked_for_everything(client, current_app, staff, ran, big_dead_letter):
    cut = client.get(f"/ops/api/deadletters/{big_dead_letter}/")
    assert len(cut.content) < 100_000 and cut.json()["args"]["truncated"] is True
    full = client.get(f"/ops/api/deadletters/{big_dead_letter}/?full=1").json()
    assert full["args"] == ["a" * BIG] and full["traceback"] == "t" * BIG
    task = client.get(f"/ops/api/tasks/{big_dead_letter}")
    assert len(task.content) < 100_000
    detail = task.json()
    assert detail["args"]["truncated"] is True and detail["dead_letter"]["traceback"].startswith("tttt")


def test_a_big_result_is_cut_in_the_task_detail(client, current_app, staff, ops_tasks, ops_worker, settings):
    settings.OPS_PREVIEW_CHARS = 1000
    result = ops_tasks.add.delay("r" * 200_000, "s")
    assert len(result.get(timeout=30)) == 200_001
    detail = client.get(f"/ops/api/tasks/{result.id}").json()
    assert detail["result"] == "r" * 1000 + "… [cut: 200001 characters in all]"
    assert detail["args"] == {"truncated": True, "chars": len(json.dumps(["r" * 200_000, "s"])),
                              "preview": json.dumps(["r" * 200_000, "s"])[:1000]}
    full = client.get(f"/ops/api/tasks/{result.id}?full=true").json()
    assert full["result"] == "r" * 200_000 + "s"

"""The dashboard's permissions and JSON content, against a real Redis and a real worker that ran tasks."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families

from compat.deadletters import store_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]


@pytest.fixture
def staff(client):
    user = User.objects.create_user("ops-staff", password="pw", is_staff=True)
    client.force_login(user)
    return user


@pytest.fixture
def member(client):
    user = User.objects.create_user("ops-member", password="pw")
    client.force_login(user)
    return user


def test_page_sends_anonymous_visitors_to_the_admin_login(client, current_app):
    response = client.get("/ops/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/ops/")


def test_page_honours_a_configured_login_url(client, current_app, settings):
    settings.LOGIN_URL = "/accounts/login/"
    response = client.get("/ops/")
    assert response["Location"].startswith("/accounts/login/?next=/ops/")


def test_page_and_api_refuse_users_who_are_not_staff(client, current_app, member):
    assert client.get("/ops/").status_code == 403
    assert client.get("/ops/api/overview").status_code == 403
    assert client.get("/metrics").status_code == 403


def test_api_wants_a_session(client, current_app):
    for url in ("/ops/api/overview", "/ops/api/tasks", "/ops/api/tasks/x", "/ops/api/queues"):
        assert client.get(url).status_code == 401, url
    assert client.post("/ops/api/deadletters/x/purge/").status_code == 401


def test_staff_page_renders_queues_tasks_and_failures(client, current_app, staff, ran):
    response = client.get("/ops/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-queue="default"' in html and 'data-queue="slow"' in html
    assert "tests.ops.ops_app.boom" in html  # in the per-task table
    # the server renders the search's first page: filtered by state, the failure is on it whatever ran since
    failures = client.get("/ops/", {"state": "FAILURE"}).content.decode()
    assert f'data-id="{ran["failed"]}"' in failures and 'class="state FAILURE"' in failures
    assert 'class="state SUCCESS"' not in failures
    assert "compat_ops/ops.js" in html and "csrfmiddlewaretoken" in html
    assert "nightly-add" in html


def test_overview_json(client, current_app, staff, ran):
    data = client.get("/ops/api/overview").json()
    queues = {queue["name"]: queue for queue in data["queues"]}
    assert {"default", "slow"} <= set(queues)
    assert queues["default"]["dead"] >= 1
    assert {"ready", "delayed", "in_progress"} <= set(queues["default"])
    alive = [worker for worker in data["workers"] if worker["alive"]]  # dead ones are listed for an hour
    assert len(alive) == 1
    worker = alive[0]
    assert "default" in worker["queues"] and worker["done"] >= 5 and worker["failed"] >= 1
    stats = {row["task"]: row for row in data["tasks"]}
    assert stats["tests.ops.ops_app.add"]["states"]["SUCCESS"] >= 5
    assert stats["tests.ops.ops_app.add"]["p95"] is not None
    assert stats["tests.ops.ops_app.boom"]["states"]["FAILURE"] >= 1
    assert ran["failed"] in [record["id"] for record in data["dead_letters"]["results"]]
    entries = {entry["name"]: entry for entry in data["scheduler"]["entries"]}
    assert entries["nightly-add"]["task"] == "tests.ops.ops_app.add"
    assert len(entries["nightly-add"]["next_runs"]) == 3


def test_recent_tasks_filter_by_state_and_task(client, current_app, staff, ran):
    failed = client.get("/ops/api/tasks?state=FAILURE").json()
    assert ran["failed"] in [event["id"] for event in failed]
    assert {event["state"] for event in failed} == {"FAILURE"}
    adds = client.get("/ops/api/tasks?task=tests.ops.ops_app.add&limit=3").json()
    assert len(adds) == 3 and {event["task"] for event in adds} == {"tests.ops.ops_app.add"}
    assert all(event["runtime"] is not None and event["queue"] == "default" for event in adds)


def test_task_detail_has_args_result_and_traceback(client, current_app, staff, ran):
    failed = client.get(f"/ops/api/tasks/{ran['failed']}").json()
    assert failed["state"] == "FAILURE" and failed["args"] == ["kaboom"]
    assert "ValueError: kaboom" in failed["traceback"]
    assert failed["dead_letter"]["reason"] == "failed"
    ok = client.get(f"/ops/api/tasks/{ran['ok'][2]}").json()
    assert ok["state"] == "SUCCESS" and ok["result"] == 4 and ok["args"] == [2, 2]
    assert client.get("/ops/api/tasks/no-such-task").status_code == 404


def test_stats_and_scheduler_leader(client, current_app, staff, ran, redis_client):
    stats = client.get("/ops/api/stats?minutes=5").json()
    assert stats["minutes"] == 5 and stats["tasks"]
    assert client.get("/ops/api/scheduler").json()["leader"] is None
    prefix = current_app.conf.ops_scheduler_prefix
    redis_client.set(f"{prefix}:leader", "host:1:abc", px=5000)
    redis_client.set(f"{prefix}:last:nightly-add", 1_700_000_000_000)
    info = client.get("/ops/api/scheduler").json()
    assert info["leader"]["token"] == "host:1:abc" and 0 < info["leader"]["ttl"] <= 5
    assert info["entries"][0]["last_run"].startswith("2023-11-14")
    redis_client.delete(f"{prefix}:leader", f"{prefix}:last:nightly-add")


def test_dead_letter_purge_one_needs_csrf(current_app, staff, ran):
    from django.test import Client

    store = store_for(current_app)
    record = dict(store.get(ran["failed"]), id="copy-of-failure")
    store.add(record)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    refused = strict.post("/ops/api/deadletters/copy-of-failure/purge/")
    assert refused.status_code == 403 and refused.json()["error"].startswith("CSRF check failed: ")
    wrong = strict.post("/ops/api/deadletters/copy-of-failure/purge/", HTTP_X_CSRFTOKEN="x" * 32)
    assert wrong.status_code == 403 and "CSRF" in wrong.json()["error"]
    assert store.get("copy-of-failure") is not None
    page = strict.get("/ops/")
    token = page.cookies["csrftoken"].value
    response = strict.post("/ops/api/deadletters/copy-of-failure/purge/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json() == {"purged": ["copy-of-failure"]}
    assert store.get("copy-of-failure") is None
    again = strict.post("/ops/api/deadletters/copy-of-failure/purge/", HTTP_X_CSRFTOKEN=token)
    assert again.status_code == 404


def test_metrics_needs_the_token_or_staff(client, current_app, ran):
    response = client.get("/metrics")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    current_app.conf.metrics_token = "s3cret"
    try:
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    finally:
        current_app.conf.metrics_token = None
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(response.content.decode())
    assert ("compat_queue_messages", (("queue", "default"), ("state", "ready"))) in found
    assert found["compat_tasks_total", (("state", "FAILURE"), ("task", "tests.ops.ops_app.boom"))] >= 1
    add = ("task", "tests.ops.ops_app.add")
    inf = found["compat_task_duration_seconds_bucket", (("le", "+Inf"), add)]
    assert inf == found["compat_task_duration_seconds_count", (add,)] >= 5
    assert found["compat_task_duration_seconds_sum", (add,)] > 0
    assert found["compat_task_retries_total", (add,)] == 0
    assert found["compat_dead_letters", ()] >= 1 and found["compat_workers", ()] == 1
    assert found["compat_scheduler_next_run_timestamp_seconds", (("entry", "nightly-add"),)] > time.time()
    assert found["compat_scheduler_leader", ()] == 0
    types = {family.name: family.type for family in text_string_to_metric_families(response.content.decode())}
    assert types["compat_tasks"] == "counter" and types["compat_task_duration_seconds"] == "histogram"
    assert types["compat_queue_messages"] == types["compat_workers"] == "gauge"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus exposition, keyed by name and sorted labels (the official parser)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_escape_label_values(client, current_app, staff, ran, redis_client):
    prefix = current_app.conf.ops_scheduler_prefix
    current_app.conf.beat_schedule = {
        **current_app.conf.beat_schedule,
        'odd "name"\\n': {"task": "tests.ops.ops_app.add", "schedule": 60.0, "args": (1, 1)},
    }
    try:
        text = client.get("/metrics").content.decode()
    finally:
        current_app.conf.beat_schedule.pop('odd "name"\\n')
        redis_client.delete(f"{prefix}:leader")
    entry = (("entry", 'odd "name"\\n'),)
    assert ("compat_scheduler_next_run_timestamp_seconds", entry) in samples(text)


def test_metrics_for_staff_sessions(client, current_app, staff, ran):
    response = client.get("/metrics")
    assert response.status_code == 200 and b"compat_tasks_total" in response.content


def test_dashboard_script_is_served_with_debug_off(client, current_app, staff, settings):
    settings.DEBUG = False  # production: Django's staticfiles view is off; WhiteNoise serves /static/
    settings.ALLOWED_HOSTS = ["testserver"]
    html = client.get("/ops/").content.decode()
    sources = [part.split('"', 1)[0] for part in html.split('<script src="')[1:]]
    names = [src.rsplit("/", 1)[1] for src in sources]
    assert names == ["uPlot.iife.min.js", "ops.js", "charts.js", "detail.js"]
    for src in sources:  # the vendored chart library too: served from this site, not fetched elsewhere
        assert src.startswith("/static/compat_ops/")
        response = client.get(src)
        assert response.status_code == 200, src
        assert "javascript" in response["Content-Type"]
        text = b"".join(response.streaming_content)
        assert b"uPlot" in text if "uPlot" in src else b"fetch(" in text

"""Charts, task search, canvas graphs, actions and the workers panel, on a real Redis with a real worker."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.test import Client

import compat.history
from compat import chain
from compat.deadletters import store_for
from compat.history import series
from compat.metrics import metrics_key
from tests.ops.conftest import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]
ADD = "tests.ops.ops_app.add"


@pytest.fixture
def staff(client):
    user = User.objects.create_user("ops-staff", password="pw", is_staff=True)
    client.force_login(user)
    return user


def test_series_count_what_ran_per_minute_and_per_five_minutes(current_app, ran):
    wait_for(lambda: sum(series(current_app, "1h")["states"].get("SUCCESS", [])) >= 5, what="the series")
    hour = series(current_app, "1h")
    assert len(hour["times"]) == 60 and hour["step"] == 60
    assert hour["times"] == sorted(hour["times"]) and hour["times"][-1] <= time.time()
    assert sum(hour["states"]["FAILURE"]) >= 1
    assert any(value is not None for value in hour["runtime"][ADD]["p95"])
    day = series(current_app, "24h")
    assert len(day["times"]) == 288 and day["step"] == 300
    assert sum(day["states"]["SUCCESS"]) == sum(hour["states"]["SUCCESS"])  # the same runs, coarser
    # queue depth: one worker samples each queue it consumes once per 10-second bucket
    wait_for(lambda: "default" in series(current_app, "1h")["queues"], timeout=30, what="a depth sample")
    depth = series(current_app, "1h")["queues"]["default"]
    assert set(depth) == {"ready", "delayed", "in_progress"}
    assert any(value is not None for value in depth["ready"])
    update = series(current_app, "1h", since=hour["times"][-2])
    assert update["times"][0] == hour["times"][-2] and len(update["times"]) <= 3


class RedisCalls:
    """Counts what redis-py sends: round trips (a command, or a pipeline) and commands (a pipeline's each)."""

    def __init__(self, monkeypatch) -> None:
        import redis.client

        self.round_trips = self.commands = 0
        self.names: Counter = Counter()
        execute_command, execute = redis.client.Redis.execute_command, redis.client.Pipeline.execute

        def one(client, *args, **options):
            if not isinstance(client, redis.client.Pipeline):
                self.round_trips += 1
                self.commands += 1
                self.names[str(args[0])] += 1
            return execute_command(client, *args, **options)

        def pipeline(pipe, *args, **kwargs):
            if pipe.command_stack:
                self.round_trips += 1
                self.commands += len(pipe.command_stack)
                self.names.update(str(command[0][0]) for command in pipe.command_stack)
            return execute(pipe, *args, **kwargs)

        monkeypatch.setattr(redis.client.Redis, "execute_command", one)
        monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)


def _refresh_cost(client, monkeypatch, now: float) -> tuple[int, int, Counter]:
    """Redis round trips and commands of one page refresh: the overview and the charts' live update.

    The series reads one hash per 10-second bucket since the minute ``since`` falls in, 7 to 12 of them by
    where in the minute the clock is, so both refreshes are made at the same clock reading ``now``."""
    with monkeypatch.context() as patch:
        patch.setattr(compat.history, "time", SimpleNamespace(time=lambda: now))
        calls = RedisCalls(patch)
        assert client.get("/ops/api/overview", {"hide_periodic": "1", "limit": 50}).status_code == 200
        assert client.get("/ops/api/series", {"span": "1h", "since": now - 60}).status_code == 200
    return calls.round_trips, calls.commands, calls.names


def test_a_refresh_costs_the_same_redis_calls_whatever_the_number_of_tasks(
    client, staff, current_app, ops_tasks, ran, monkeypatch
):
    now = time.time()
    before = _refresh_cost(client, monkeypatch, now)
    results = [ops_tasks.slow.delay(0) for _ in range(300)]
    for result in results:
        result.get(timeout=60)
    wait_for(lambda: results[-1].id in _recent(client, {}), what="the runs in the index")
    after = _refresh_cost(client, monkeypatch, now)
    print(f"\nrefresh: {before[:2]} (round trips, commands) before 300 more tasks, {after[:2]} after")
    # (before the terminate test in this file: a worker process that changes would change the count)
    workers = [w["id"] for w in client.get("/ops/api/workers?inspect=0").json()]
    assert after[:2] == before[:2], f"more: {after[2] - before[2]}, fewer: {before[2] - after[2]}, {workers}"
    assert before[0] <= 40 and before[1] <= 250


def test_series_api_rejects_an_unknown_span(client, staff, current_app):
    response = client.get("/ops/api/series", {"span": "7d"})
    assert response.status_code == 400 and "span" in response.json()["error"]


def test_search_by_id_name_state_time_and_argument(client, staff, current_app, ran):
    def ids(**query):
        response = client.get("/ops/api/search", query)
        assert response.status_code == 200, response.content
        return [event["id"] for event in response.json()["results"]]

    found = client.get("/ops/api/search", {"id": ran["failed"]}).json()
    assert [event["id"] for event in found["results"]] == [ran["failed"]]
    assert found["task"]["state"] == "FAILURE"
    assert ran["failed"] in ids(args="KABOOM")  # case-insensitive substring of the arguments
    assert ran["failed"] in ids(name="ops_app.boom", state="FAILURE")
    assert ran["failed"] not in ids(state="SUCCESS")
    assert set(ran["ok"]) <= set(ids(name="ops_app.add", limit=500))
    assert ids(since=time.time() + 60) == []
    assert ids(until=time.time() - 86400) == []
    assert set(ran["ok"]) <= set(ids(since=time.time() - 3600, name="add", limit=500))
    first, second = ids(name="add", limit=2), ids(name="add", limit=2, offset=2)
    assert len(first) == 2 and first[0] not in second
    assert client.get("/ops/api/search", {"name": "add", "limit": 2}).json()["more"] is True
    response = client.get("/ops/api/search", {"since": "yesterday"})
    assert response.status_code == 400 and "since" in response.json()["error"]


def test_recent_list_hides_periodic_tasks_and_pages(client, staff, current_app, ops_tasks, ran):
    periodic = ops_tasks.add.delay(100, 1)  # add is the task of the nightly-add schedule entry
    periodic.get(timeout=20)
    wait_for(lambda: periodic.id in _recent(client, {}), what="the run in the index")
    assert periodic.id not in _recent(client, {"hide_periodic": "1"})
    assert ran["failed"] in _recent(client, {"hide_periodic": "1"})
    page = client.get("/ops/api/overview", {"limit": 1, "offset": 1}).json()
    assert len(page["recent"]) == 1 and page["recent_page"]["offset"] == 1 and page["recent_page"]["more"]


def _recent(client, query):
    return [
        event["id"] for event in client.get("/ops/api/overview", {**query, "limit": 500}).json()["recent"]
    ]


def test_chain_graph_shows_the_failed_step_and_the_steps_it_stopped(
    client, staff, current_app, ops_tasks, ran
):
    last = chain(
        ops_tasks.add.s(1, 1), ops_tasks.add.s(2), ops_tasks.fail_step.s(), ops_tasks.add.s(3)
    ).delay()
    failed_step = last.parent
    store = store_for(current_app)
    wait_for(lambda: store.get(failed_step.id) is not None, what="the failed step's dead letter")
    search = lambda: client.get("/ops/api/search", {"id": failed_step.id}).json()["results"]  # noqa: E731
    wait_for(lambda: search(), what="its run in the index")
    graph = client.get(f"/ops/api/tasks/{failed_step.id}/graph").json()
    by_id = {node["id"]: node for node in graph["nodes"]}
    first = failed_step.parent.parent
    assert set(by_id) == {first.id, failed_step.parent.id, failed_step.id, last.id}
    assert [by_id[i]["state"] for i in (first.id, failed_step.parent.id)] == ["SUCCESS", "SUCCESS"]
    assert by_id[failed_step.id]["state"] == "FAILURE" and by_id[failed_step.id]["ran"] is True
    assert by_id[last.id]["state"] == "FAILURE" and by_id[last.id]["ran"] is False  # stopped, Celery marks it
    assert [by_id[i]["depth"] for i in (first.id, failed_step.parent.id, failed_step.id, last.id)] == [
        0,
        1,
        2,
        3,
    ]
    assert sorted(map(tuple, graph["edges"])) == sorted(
        [
            (first.id, failed_step.parent.id),
            (failed_step.parent.id, failed_step.id),
            (failed_step.id, last.id),
        ]
    )
    assert graph["root"] == first.id
    detail = client.get(f"/ops/api/tasks/{failed_step.id}").json()
    assert detail["parent"] == failed_step.parent.id and detail["root"] == first.id
    assert detail["worker"] and detail["timings"][0]["runtime"] is not None
    assert "RuntimeError: step fails on 4" in detail["traceback"]
    assert client.get(f"/ops/api/tasks/{failed_step.parent.id}").json()["children"] == [failed_step.id]


def test_every_action_needs_staff_csrf_and_confirmation(client, current_app, ran):
    task_id = ran["failed"]
    posts = [
        f"/ops/api/tasks/{task_id}/revoke",
        f"/ops/api/tasks/{task_id}/retry",
        "/ops/api/schedules/nightly-add/run",
    ]
    gets = ["/ops/api/series", "/ops/api/search", f"/ops/api/tasks/{task_id}/graph", "/ops/api/audit"]
    for url in posts + gets:
        assert client.get(url).status_code == 401, url
    member = User.objects.create_user("ops-member", password="pw")
    client.force_login(member)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url, {"confirm": True}, content_type="application/json").status_code == 403, url
    assert client.get("/ops/").status_code == 403
    admin = User.objects.create_user("ops-csrf", password="pw", is_staff=True)
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(admin)
    for url in posts:
        response = forged.post(url, {"confirm": True}, content_type="application/json")
        assert response.status_code == 403 and "CSRF" in response.json()["error"], url
    client.force_login(admin)
    response = client.post(posts[0], {}, content_type="application/json")
    assert response.status_code == 400 and "confirm" in response.json()["error"]
    assert current_app.AsyncResult(task_id).state == "FAILURE"  # unconfirmed: nothing happened


def test_revoke_run_now_and_schedule_rows_are_logged_with_the_user(
    client, staff, current_app, ops_tasks, ops_worker
):
    pending = f"never-sent-{uuid.uuid4().hex}"
    response = client.post(
        f"/ops/api/tasks/{pending}/revoke", {"confirm": True}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["terminate"] is False
    assert current_app.AsyncResult(pending).state == "REVOKED"
    sent = client.post(
        "/ops/api/schedules/nightly-add/run", {"confirm": True}, content_type="application/json"
    )
    assert sent.status_code == 200
    assert current_app.AsyncResult(sent.json()["sent"]).get(timeout=20) == 3  # add(1, 2), the entry's args
    refused = client.post(
        "/ops/api/schedules/nightly-add/disable", {"confirm": True}, content_type="application/json"
    )
    assert refused.status_code == 409 and "comes from beat_schedule" in refused.json()["error"]
    missing = client.post("/ops/api/schedules/nope/run", {"confirm": True}, content_type="application/json")
    assert missing.status_code == 404

    from compat.contrib.django.beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=3600, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="db-add", task=ADD, interval=every, args="[2, 3]")
    off = client.post("/ops/api/schedules/db-add/disable", {"confirm": True}, content_type="application/json")
    assert off.status_code == 200 and PeriodicTask.objects.get(name="db-add").enabled is False
    rows = client.get("/ops/api/scheduler").json()["rows"]
    assert [(row["name"], row["enabled"]) for row in rows] == [("db-add", False)]
    run = client.post("/ops/api/schedules/db-add/run", {"confirm": True}, content_type="application/json")
    assert current_app.AsyncResult(run.json()["sent"]).get(timeout=20) == 5
    actions = client.get("/ops/api/audit").json()
    assert [(a["user"], a["action"], a["target"]) for a in actions[:4]] == [
        ("ops-staff", "schedule run", "db-add"),
        ("ops-staff", "schedule disable", "db-add"),
        ("ops-staff", "schedule run", "nightly-add"),
        ("ops-staff", "revoke", pending),
    ]


def test_revoke_with_terminate_stops_a_running_task(client, staff, current_app, ops_tasks, ran):
    running = ops_tasks.slow.delay(120)
    wait_for(lambda: _active_ids(client) >= {running.id}, timeout=30, what="the task to run")
    response = client.post(
        f"/ops/api/tasks/{running.id}/revoke",
        {"confirm": True, "terminate": True},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["replies"]
    wait_for(lambda: running.id not in _active_ids(client), timeout=30, what="the task to stop")
    assert running.state == "REVOKED"


def _active_ids(client) -> set[str]:
    return {task["id"] for worker in client.get("/ops/api/workers").json() for task in worker["active"]}


def test_workers_panel_shows_live_workers_from_inspect_and_dead_ones(
    client, staff, current_app, ran, redis_client
):
    ns = current_app.conf.broker_namespace
    ghost, seen = f"ghost-{uuid.uuid4().hex[:6]}", time.time() - 120
    redis_client.hset(
        metrics_key(ns, "worker", ghost),
        mapping={
            "id": ghost,
            "host": "gone-host",
            "pid": 4242,
            "queues": "[]",
            "heartbeat": seen,
            "started": seen,
        },
    )
    redis_client.zadd(metrics_key(ns, "workers"), {ghost: seen})
    try:
        _check_workers_panel(client, ghost, seen)
    finally:  # the namespace is the session's: other tests count its workers
        redis_client.delete(metrics_key(ns, "worker", ghost))
        redis_client.zrem(metrics_key(ns, "workers"), ghost)


def _check_workers_panel(client, ghost: str, seen: float) -> None:
    workers = client.get("/ops/api/workers").json()
    alive = [w for w in workers if w["alive"]]
    assert alive and alive[0]["concurrency"] == 4 and alive[0]["uptime"] >= 0 and alive[0]["node"]
    dead = next(w for w in workers if w["id"] == ghost)
    assert dead["alive"] is False and dead["stopped"] is None and abs(dead["heartbeat"] - seen) < 1
    overview = client.get("/ops/api/overview").json()
    assert ghost in [w["id"] for w in overview["workers"]]


def test_chord_graph_joins_the_group_members_into_the_body(client, staff, current_app, ops_tasks, ran):
    from compat import chord, group

    body = chord(group(ops_tasks.add.s(i, i) for i in range(3)), ops_tasks.total.s()).delay()
    assert body.get(timeout=30) == 6
    search = lambda: client.get("/ops/api/search", {"id": body.id}).json()["results"]  # noqa: E731
    wait_for(lambda: search(), what="the body's run in the index")
    graph = client.get(f"/ops/api/tasks/{body.id}/graph").json()
    tasks = sorted(node["task"].rsplit(".", 1)[1] for node in graph["nodes"])
    assert tasks == ["add", "add", "add", "total"]
    assert all(node["state"] == "SUCCESS" and node["ran"] for node in graph["nodes"])
    members = {node["id"] for node in graph["nodes"] if node["id"] != body.id}
    assert {tuple(edge) for edge in graph["edges"]} == {(member, body.id) for member in members}
    assert {node["depth"] for node in graph["nodes"] if node["id"] in members} == {0}

"""``python -m tests.compat.results_project.drive ACTION [ARG...]``: one step in the configured project; the
last line printed is its outcome as JSON.

With ``settings`` (compat): ``migrate [APP TARGET]``, ``columns``, ``basics`` (tasks on the live worker,
their states read back, the task-status view), ``chords COUNT SIZE`` (chords sent at once), ``chord-fail``,
``write`` (rows a compat worker would write, without one) and ``read IDS_JSON`` (compat's view of rows).
With ``dcr_settings`` (django-celery-results and real Celery): ``migrate``, ``columns``,
``celery-write`` (rows through django-celery-results' own backend) and ``celery-read IDS_JSON``.
"""

from __future__ import annotations

import json
import sys
import time

import django

TABLES = [f"django_celery_results_{name}" for name in ("taskresult", "groupresult", "chordcounter")]


def migrate(*target: str) -> dict:
    from django.core.management import call_command

    call_command("migrate", *target, verbosity=0)
    call_command("createcachetable", verbosity=0)  # for django-cache (a DatabaseCache)
    return {"migrated": True}


def columns() -> dict:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            if table not in connection.introspection.table_names(cursor):
                continue
            cols = {}
            for col in connection.introspection.get_table_description(cursor, table):
                kind = connection.introspection.get_field_type(col.type_code, col)
                cols[col.name] = [kind, bool(col.null_ok), col.internal_size if "Char" in kind else None]
            constraints = sorted(
                [sorted(c["columns"]), bool(c["unique"]), bool(c["primary_key"]), bool(c["index"])]
                for c in connection.introspection.get_constraints(cursor, table).values()
            )
            out[table] = {"columns": cols, "constraints": constraints}
    return out


# -- compat side ---------------------------------------------------------------------------------------
def _app():
    from tests.compat.results_project import app, tasks  # noqa: F401 - registers the tasks

    return app, tasks


def basics() -> dict:
    from django.test import Client

    from compat import group

    app, tasks = _app()
    out: dict = {}
    added = tasks.add.delay(2, 3)
    out["add"] = added.get(timeout=60)
    out["add_state"] = added.state
    out["add_extended"] = [added.name, added.args, added.kwargs, bool(added.worker), added.queue]
    failed = tasks.fail.delay("kaput")
    try:
        failed.get(timeout=60)
    except Exception as exc:  # noqa: BLE001 - the test checks what was raised
        out["fail_raised"] = [type(exc).__module__, type(exc).__name__, list(exc.args)]
    out["fail_state"] = failed.state
    out["fail_traceback"] = failed.traceback
    flaky = tasks.flaky.delay(2)
    out["flaky"] = [flaky.get(timeout=60), flaky.retries]
    napping = tasks.nap.delay(1.5)
    seen = set()
    deadline = time.monotonic() + 30
    while not napping.ready() and time.monotonic() < deadline:
        seen.add(napping.state)
        time.sleep(0.05)
    out["nap_states"] = sorted(seen | {napping.state})
    out["group"] = group(tasks.add.s(i, i) for i in range(5)).apply_async().get(timeout=60)
    client = Client()
    out["view_success"] = client.get(f"/tasks/{added.id}/").json()
    out["view_failure"] = client.get(f"/tasks/{failed.id}/").json()
    out["view_unknown"] = client.get("/tasks/no-such-id/").json()
    out["ids"] = {"add": added.id, "fail": failed.id, "flaky": flaky.id}
    return out


def chords(count: str, size: str) -> dict:
    from compat import chord

    app, tasks = _app()
    results = [
        chord([tasks.nap.s(0, n * 100 + i) for i in range(int(size))], tasks.collect.s()).apply_async()
        for n in range(int(count))
    ]
    values = [result.get(timeout=120) for result in results]
    from compat.contrib.django.results.models import ChordCounter

    counts = {row.group_id: row.count for row in ChordCounter.objects.all()}
    return {"values": values, "counters": sorted(counts.values())}


def chord_fail() -> dict:
    from compat import chord

    app, tasks = _app()
    result = chord([tasks.add.s(1, 1), tasks.fail.s("header broke"), tasks.add.s(2, 2)], tasks.collect.s())()
    try:
        result.get(timeout=60)
    except Exception as exc:  # noqa: BLE001 - get() re-raises the failed parent's error, as Celery's does
        raised = [type(exc).__name__, str(exc)]
    else:
        raised = None
    body = result.get(timeout=60, propagate=False, follow_parents=False)
    return {"raised": raised, "state": result.state, "body": [type(body).__name__, str(body)]}


def write() -> dict:
    """Rows as a compat worker writes them (through the store), for django-celery-results to read."""
    from compat import states
    from compat.result import GroupResult
    from tests.compat.results_project.errors import Broken

    app, _ = _app()
    store = app.backend
    ok = states.record("ours-ok", "SUCCESS", {"answer": [1, 2.5, "x"]}, date_done=states._now())
    ok.update(name="results.add", args=[1, 2], kwargs={"k": "v"}, worker="w@host", retries=0, queue="default")
    store.set_state("ours-ok", ok)
    try:
        raise Broken("ours broke")
    except Broken as exc:
        store.set_state("ours-fail", states.failure("ours-fail", exc))
    GroupResult("ours-group", [app.AsyncResult("ours-ok"), app.AsyncResult("ours-fail")]).save()
    return {"written": ["ours-ok", "ours-fail"]}


def read(ids: str) -> dict:
    app, _ = _app()
    out = {}
    for task_id in json.loads(ids):
        result = app.AsyncResult(task_id)
        value = result.result
        out[task_id] = {
            "state": result.state,
            "result": [type(value).__name__, list(value.args)] if isinstance(value, Exception) else value,
            "traceback": result.traceback,
            "name": result.name,
            "args": result.args,
            "kwargs": result.kwargs,
            "worker": result.worker,
        }
    from compat.result import GroupResult

    group = GroupResult.restore("theirs-group", app=app)
    out["theirs-group"] = [r.id for r in group.results] if group else None
    return out


def admin() -> dict:
    """The admin's task-result pages for a superuser: list, filter, search, read-only detail."""
    from django.contrib.auth.models import User
    from django.test import Client

    write()
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    base = "/admin/compat_results/taskresult/"
    row = _app()[0].backend
    from compat.contrib.django.results.models import TaskResult

    pk = TaskResult.objects.get(task_id="ours-fail").pk
    listed = client.get(base)
    failed_only = client.get(base + "?status__exact=FAILURE")
    searched = client.get(base + "?q=ours-ok")
    detail = client.get(f"{base}{pk}/change/")
    return {
        "store": type(row).__name__,
        "list": [listed.status_code, "ours-ok" in listed.text, "ours-fail" in listed.text],
        "filtered": ["ours-ok" in failed_only.text, "ours-fail" in failed_only.text],
        "searched": ["ours-ok" in searched.text, "ours-fail" in searched.text],
        "detail": [detail.status_code, "Broken: ours broke" in detail.text, 'name="_save"' in detail.text],
        "add": client.get(base + "add/").status_code,
        "post": client.post(f"{base}{pk}/change/", {"status": "SUCCESS"}).status_code,
        "status_after": TaskResult.objects.get(pk=pk).status,
    }


def _member(store, start, fired: list, group_id: str, ids: list, index: int) -> None:
    """One header member's success, written when every member's thread is ready."""
    from django.db import connections

    from compat import states

    try:
        start.wait()
        meta = states.record(ids[index], "SUCCESS", index, date_done=states._now())
        chord = {"id": group_id, "size": len(ids), "index": index}
        if store.set_state_joining(ids[index], meta, chord) is not None:
            fired.append(index)
    finally:
        connections.close_all()


def race(rounds: str, members: str) -> dict:
    """Header members of one chord finishing at the same instant on threads of their own, ``rounds`` times
    over; then each member delivered once more, and a late failure's claim. The store alone, no worker."""
    import threading

    from compat import states
    from compat.result import GroupResult

    app, _ = _app()
    store, size = app.backend, int(members)
    fired_per_round, refired, late_claims = [], 0, 0
    for n in range(int(rounds)):
        group_id = f"race-{n}"
        ids = [f"race-{n}-{i}" for i in range(size)]
        GroupResult(group_id, [app.AsyncResult(i) for i in ids], app=app).save()
        start, fired = threading.Barrier(size), []
        work = [(store, start, fired, group_id, ids, i) for i in range(size)]
        threads = [threading.Thread(target=_member, args=args) for args in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fired_per_round.append(len(fired))
        for index in range(size):  # redelivered members count once
            meta = states.record(ids[index], "SUCCESS", index, date_done=states._now())
            if store.set_state_joining(ids[index], meta, {"id": group_id, "size": size, "index": index}):
                refired += 1
        late_claims += store.claim(group_id, "late-failure")
    return {"fired": fired_per_round, "refired": refired, "late_claims": late_claims}


def expiry() -> dict:
    """Rows older than ``result_expires`` go (with their group and chord counter); newer ones stay."""
    from datetime import timedelta

    from django.utils import timezone

    from compat import states
    from compat.contrib.django.results.models import ChordCounter, GroupResult, TaskResult

    app, _ = _app()
    store = app.backend
    for task_id in ("old", "new"):
        store.set_state(task_id, states.record(task_id, "SUCCESS", 1, date_done=states._now()))
        store.save_group(f"group-{task_id}", [[f"group-{task_id}", None], [[[task_id, None], None]]])
        store.claim(f"group-{task_id}", task_id)
    two_days_ago = timezone.now() - timedelta(days=2)
    TaskResult.objects.filter(task_id="old").update(date_done=two_days_ago)
    GroupResult.objects.filter(group_id="group-old").update(date_done=two_days_ago)
    deleted = store.cleanup()
    return {
        "deleted": deleted,
        "tasks": sorted(TaskResult.objects.values_list("task_id", flat=True)),
        "groups": sorted(GroupResult.objects.values_list("group_id", flat=True)),
        "counters": sorted(ChordCounter.objects.values_list("group_id", flat=True)),
        "old_reads": app.AsyncResult("old").state,
    }


# -- django-celery-results + Celery side ---------------------------------------------------------------
def _celery():
    from celery import Celery

    app = Celery("dcrproj", broker="memory://", backend="django-db", set_as_current=False)
    app.conf.update(result_extended=True, result_serializer="json", accept_content=["json"])
    return app


def celery_write() -> dict:
    from celery.app.task import Context

    from tests.compat.results_project.errors import Broken

    app = _celery()
    request = Context(
        id="theirs-ok", task="results.add", args=[3, 4], kwargs={"z": 1}, hostname="celery@host",
        argsrepr="(3, 4)", kwargsrepr="{'z': 1}", delivery_info={"routing_key": "default"},
    )
    app.backend.store_result("theirs-ok", {"answer": 7}, "SUCCESS", request=request)
    try:
        raise Broken("theirs broke")
    except Broken as exc:
        import traceback

        failing = Context(
            id="theirs-fail", task="results.fail", args=["x"], kwargs={}, hostname="celery@host"
        )
        app.backend.store_result(
            "theirs-fail", exc, "FAILURE", traceback=traceback.format_exc(), request=failing
        )
    app.GroupResult("theirs-group", [app.AsyncResult("theirs-ok"), app.AsyncResult("theirs-fail")]).save()
    return {"written": ["theirs-ok", "theirs-fail"]}


def celery_read(ids: str) -> dict:
    from django_celery_results.models import GroupResult, TaskResult

    app = _celery()
    out = {}
    for task_id in json.loads(ids):
        result = app.AsyncResult(task_id)
        value = result.get(timeout=5, propagate=False)
        row = TaskResult.objects.get(task_id=task_id)
        out[task_id] = {
            "state": result.state,
            "result": [type(value).__name__, list(value.args)] if isinstance(value, Exception) else value,
            "traceback": result.traceback,
            "name": result.name,
            "row": [row.status, row.task_name, row.worker, row.content_type],
        }
    group = app.GroupResult.restore("ours-group")
    out["ours-group"] = [r.id for r in group.results] if group else None
    out["group_rows"] = sorted(GroupResult.objects.values_list("group_id", flat=True))
    return out


ACTIONS = {
    "migrate": migrate,
    "columns": columns,
    "basics": basics,
    "chords": chords,
    "chord-fail": chord_fail,
    "write": write,
    "admin": admin,
    "race": race,
    "expiry": expiry,
    "read": read,
    "celery-write": celery_write,
    "celery-read": celery_read,
}


if __name__ == "__main__":
    django.setup()
    action, *args = sys.argv[1:]
    print(json.dumps(ACTIONS[action](*args), default=str))

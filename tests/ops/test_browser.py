"""The dashboard in headless Chromium against a live server and a real worker (``tests.ops.ops_app``).

Staff requeue a failed task and see it succeed; revoke with terminate stops a running task; a user who is
not staff gets 403 on every page and action, and a POST without the CSRF token is refused. Uses Debian's
``chromium`` driven by Playwright's Python API; no browser is downloaded. Skipped only where that
Chromium is missing. The image pipeline, charts and screenshots: ``test_browser_threads.py``.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from compat.deadletters import store_for
from tests.ops.conftest import wait_for, watch_problems

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.ops.urls")]


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/ops/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/ops/")


def staff_user(name: str = "ops-admin") -> None:
    User.objects.create_user(name, password="correct horse", is_staff=True)
    # Under Playwright's sync API this ran on a connection of its own (Django keys connections by
    # context), which nothing else closes: left open, it blocks dropping the test database at the end.
    connection.close()


def test_staff_requeues_a_failed_task_and_sees_it_succeed(
    live_server, current_app, ops_tasks, ran, redis_client, chromium_page
):
    from scheduler.lease import Lease

    staff_user()
    failed = ops_tasks.flaky.delay(f"{current_app.conf.broker_namespace}:flaky:{uuid.uuid4().hex}")
    store = store_for(current_app)
    wait_for(lambda: store.get(failed.id) is not None, what="the dead letter")
    lease = Lease(redis_client, f"{current_app.conf.ops_scheduler_prefix}:leader", ttl=60)
    lease.acquire()
    page = chromium_page
    problems = watch_problems(page)  # the page runs under a strict Content-Security-Policy
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    try:
        log_in(page, live_server.url, "ops-admin")
        page.wait_for_selector('#queues tr[data-queue="default"]')
        failed_row = f'#recent tr[data-id="{failed.id}"] td.state.FAILURE'
        page.wait_for_selector(failed_row)
        page.wait_for_function("() => document.body.dataset.refreshed")  # the script has refreshed the page
        assert "script-src 'self'" in page.evaluate(
            "fetch(location.href).then((r) => r.headers.get('content-security-policy'))"
        )
        # ops.css applied (a blocked stylesheet would leave the browser's default font size)
        assert page.evaluate("getComputedStyle(document.body).fontSize") == "14px"

        page.click(f'#recent tr[data-id="{failed.id}"]')
        page.wait_for_selector("#task-detail[open]")
        assert "RuntimeError: first run fails" in page.inner_text("#detail-body")
        page.click("#detail-close")

        page.click(f'#dead-letters tr[data-id="{failed.id}"] button.requeue')
        page.wait_for_selector(f'#recent tr[data-id="{failed.id}"] td.state.SUCCESS')
        page.wait_for_selector(f'#dead-letters tr[data-id="{failed.id}"]', state="detached")
        assert dialogs == [f"Requeue dead letter {failed.id}?"]  # asked first
        assert page.evaluate("window.cspViolations") == []
    finally:
        lease.release()
    assert problems == []  # no Content-Security-Policy violation, no script error
    assert current_app.AsyncResult(failed.id).get(timeout=10) == "second run"
    assert store.get(failed.id) is None


def test_revoke_with_terminate_stops_a_running_task(live_server, current_app, ops_tasks, ran, chromium_page):
    staff_user("ops-terminator")
    running = ops_tasks.slow.delay(300)
    page = chromium_page
    problems = watch_problems(page)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    log_in(page, live_server.url, "ops-terminator")
    # the workers panel (inspect, every 10 s) lists the task among the worker's active ones
    active = f'#workers td.active a[data-id="{running.id}"]'
    page.wait_for_selector(active, timeout=40_000)
    page.click(active)
    page.wait_for_selector("#task-detail[open]")
    assert "state STARTED" in page.inner_text("#detail-body")  # nothing recorded yet: its worker says so
    page.click("#action-terminate")
    page.wait_for_function("() => document.body.dataset.acted === 'action-terminate'")
    assert dialogs == [f"Revoke task {running.id} and terminate it if it is running?"]
    assert "terminate: " + running.id in page.inner_text("#action-message")
    wait_for(lambda: running.state == "REVOKED", timeout=30, what="the task revoked")
    page.click("#detail-close")
    page.wait_for_selector(active, state="detached", timeout=40_000)  # no longer running anywhere
    page.wait_for_selector('#actions td:text-is("revoke and terminate")')
    assert "ops-terminator" in page.inner_text("#actions")
    assert problems == []


def test_non_staff_get_403_everywhere_and_a_post_without_csrf_is_refused(
    live_server, current_app, ran, chromium, chromium_page
):
    member = User.objects.create_user("ops-member", password="correct horse")
    staff_user("ops-csrf")
    task_id = ran["failed"]
    gets = [
        "/ops/",
        "/ops/api/overview",
        "/ops/api/series",
        "/ops/api/search?id=" + task_id,
        "/ops/api/workers",
        f"/ops/api/tasks/{task_id}",
        f"/ops/api/tasks/{task_id}/graph",
        "/ops/api/audit",
        "/ops/api/deadletters/",
    ]
    posts = [
        f"/ops/api/tasks/{task_id}/revoke",
        f"/ops/api/tasks/{task_id}/retry",
        "/ops/api/schedules/nightly-add/run",
        "/ops/api/schedules/nightly-add/disable",
        f"/ops/api/deadletters/{task_id}/requeue/",
        f"/ops/api/deadletters/{task_id}/purge/",
        "/ops/api/deadletters/bulk/",
    ]
    base = live_server.url
    # The admin's login refuses users who are not staff: the member's session is made as a project's own
    # login view would, and handed to the browser, with a CSRF token its POSTs carry.
    session = Client()
    session.force_login(member)
    connection.close()
    page = chromium_page
    page.context.add_cookies(
        [
            {"name": "sessionid", "value": session.cookies["sessionid"].value, "url": base},
            {"name": "csrftoken", "value": "m" * 32, "url": base},
        ]
    )
    page.goto(f"{base}/ops/")
    assert "staff only" in page.content()
    statuses = page.evaluate(
        """async ([gets, posts]) => {
            const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
            const csrf = cookie ? cookie.split("=")[1] : "";
            const out = {};
            for (const url of gets) out["GET " + url] = (await fetch(url)).status;
            for (const url of posts) out["POST " + url] = (await fetch(url, { method: "POST",
                headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
                body: JSON.stringify({ confirm: true, action: "purge", all: true }) })).status;
            return out;
        }""",
        [gets, posts],
    )
    assert statuses == {**{f"GET {u}": 403 for u in gets}, **{f"POST {u}": 403 for u in posts}}
    # A staff session, but a forged POST (another site's form cannot read the CSRF token): refused.
    forged = chromium.new_page()
    log_in(forged, base, "ops-csrf")
    answers = forged.evaluate(
        """async (posts) => Promise.all(posts.map(async (url) => {
            const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: JSON.stringify({ confirm: true }) });
            return [r.status, (await r.json()).error];
        }))""",
        posts,
    )
    assert all(status == 403 and error.startswith("CSRF check failed") for status, error in answers), answers
    assert current_app.AsyncResult(task_id).state == "FAILURE"  # nothing was done
    assert store_for(current_app).get(task_id) is not None

"""The dashboard in headless Chromium: log in as staff, see a failed task, requeue it, see it succeed.

Uses Debian's ``chromium`` (``apt-get install chromium``) driven by Playwright's Python API; no browser is
downloaded. Skipped only where that Chromium is missing. Set ``OPS_SCREENSHOTS_DIR=docs/img`` to refresh
the screenshots in the docs.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection

from compat.deadletters import store_for
from tests.ops.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.ops.urls")]

CHROMIUM = os.environ.get("OPS_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium_page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # the test extra; Chromium comes from Debian

    # Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            browser.close()


def test_staff_requeues_a_failed_task_and_sees_it_succeed(
    live_server, current_app, ops_tasks, ran, redis_client, tmp_path, chromium_page
):
    from scheduler.lease import Lease

    User.objects.create_user("ops-admin", password="correct horse", is_staff=True)
    # Under Playwright's sync API this ran on a connection of its own (Django keys connections by
    # context), which nothing else closes: left open, it blocks dropping the test database at the end.
    connection.close()
    failed = ops_tasks.flaky.delay(f"{current_app.conf.broker_namespace}:flaky:{uuid.uuid4().hex}")
    store = store_for(current_app)
    wait_for(lambda: store.get(failed.id) is not None, what="the dead letter")
    lease = Lease(redis_client, f"{current_app.conf.ops_scheduler_prefix}:leader", ttl=60)
    lease.acquire()
    shots = Path(os.environ.get("OPS_SCREENSHOTS_DIR") or tmp_path)
    page = chromium_page
    # The page runs under a strict Content-Security-Policy: anything it blocks shows up here.
    problems: list[str] = []

    def on_console(msg) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        page.goto(f"{live_server.url}/ops/")
        assert "/admin/login/" in page.url
        page.fill("#id_username", "ops-admin")
        page.fill("#id_password", "correct horse")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/ops/")

        page.wait_for_selector('#queues tr[data-queue="default"]')
        failed_row = f'#recent tr[data-id="{failed.id}"] td.state.FAILURE'
        page.wait_for_selector(failed_row)
        page.wait_for_function("() => document.body.dataset.refreshed")  # the script has refreshed the page
        assert "script-src 'self'" in page.evaluate(
            "fetch(location.href).then((r) => r.headers.get('content-security-policy'))"
        )
        # ops.css applied (a blocked stylesheet would leave the browser's default font size)
        assert page.evaluate("getComputedStyle(document.body).fontSize") == "14px"
        page.screenshot(path=str(shots / "ops-dashboard.png"), full_page=True)

        page.click(f'#recent tr[data-id="{failed.id}"]')
        page.wait_for_selector("#task-detail[open]")
        assert "RuntimeError: first run fails" in page.inner_text("#detail-body")
        page.screenshot(path=str(shots / "ops-task-detail.png"))
        page.click("#detail-close")

        page.click(f'#dead-letters tr[data-id="{failed.id}"] button.requeue')
        page.wait_for_selector(f'#recent tr[data-id="{failed.id}"] td.state.SUCCESS')
        page.wait_for_selector(f'#dead-letters tr[data-id="{failed.id}"]', state="detached")
        assert page.evaluate("window.cspViolations") == []
    finally:
        lease.release()
    assert problems == []  # no Content-Security-Policy violation, no script error
    assert current_app.AsyncResult(failed.id).get(timeout=10) == "second run"
    assert store.get(failed.id) is None

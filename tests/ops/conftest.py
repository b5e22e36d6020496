"""A real worker process running ``tests.ops.ops_app`` on the test Redis, and its app made current."""

from __future__ import annotations

import importlib
import os
import time
import uuid

import pytest
import redis

import compat.app
from tests.compat.conftest import ROOT, session_worker


@pytest.fixture(scope="session")
def ops_env(redis_url):
    namespace = f"test-ops:{uuid.uuid4().hex[:10]}"
    os.environ["OPS_TEST_BROKER"] = redis_url
    os.environ["OPS_TEST_NS"] = namespace
    env = {
        **os.environ,
        "COMPAT_TEST_BROKER": redis_url,  # start_worker watches this Redis and namespace for the heartbeat
        "COMPAT_TEST_NS": namespace,
        "PYTHONPATH": str(ROOT),
    }
    yield env
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=namespace + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def ops_tasks(ops_env):
    """The ops test app module, imported with this session's broker and namespace."""
    return importlib.import_module("tests.ops.ops_app")


@pytest.fixture(scope="session")
def ops_worker(ops_env, ops_tasks, tmp_path_factory):
    """One worker process (4 threads) on the ``default`` and ``slow`` queues."""
    yield from session_worker(ops_env, "tests.ops.ops_app", tmp_path_factory)


@pytest.fixture(scope="session")
def ran(ops_worker, ops_tasks):
    """Tasks the worker has run: five adds and one failure, with their metrics flushed."""
    results = [ops_tasks.add.delay(i, i) for i in range(5)]
    failed = ops_tasks.boom.delay("kaboom")
    for result in results:
        result.get(timeout=20)
    failed.get(timeout=20, propagate=False)
    wait_for(lambda: len(recent_ids(ops_tasks.app)) >= 6)
    return {"ok": [r.id for r in results], "failed": failed.id}


def recent_ids(app) -> set[str]:
    from compat.monitoring import recent_tasks

    return {event["id"] for event in recent_tasks(app, limit=1000)}


def wait_for(condition, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def current_app(ops_tasks):
    """Make the ops test app the current app (the one the views read) for one test."""
    previous = compat.app._current_app
    compat.app._current_app = ops_tasks.app
    yield ops_tasks.app
    compat.app._current_app = previous


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
def chromium(monkeypatch):
    """Debian's Chromium driven by Playwright's sync API (no browser download); skipped only without it."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # the test extra; Chromium comes from Debian

    # Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page(chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(20_000)
    return page


def watch_problems(page) -> list[str]:
    """Script errors and Content-Security-Policy violations the page reports, collected as they happen."""
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
    return problems

"""The dashboard of the whole product in headless Chromium: Threads' web server, worker and scheduler.

After real traffic (a user registers, uploads an image whose thumbnails cannot be written), a staff user
sees the charts drawn with data points, finds the failed pipeline step by its id, and sees the image
pipeline's chain drawn as a graph with the failed step and the steps it stopped; the scheduler's
5-second counter flush is hidden from the recent list. Set ``OPS_SCREENSHOTS_DIR=docs/img`` to
regenerate the screenshots in the docs from this page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.e2e.conftest import make_stack, wait_until
from tests.ops.conftest import watch_problems
from tests.threads.support import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)
SECOND_USER = {"username": "sketcher", "email": "sketcher@example.com", "password": "e2e-Pass-word-9"}
PIPELINE = [
    "threads.tasks.process_image_pipeline",  # the task that sent the chain: its steps' parent and root
    "threads.tasks.validate_image",
    "threads.tasks.compress_image",
    "threads.tasks.generate_thumbnails",
    "threads.tasks.update_image_metadata",
    "threads.tasks.notify_processing_complete",
]


@pytest.fixture
def stack(redis_url, tmp_path):
    stack = make_stack(redis_url, tmp_path / "stack")
    # the dashboard reads the daemon's keys under the prefix the stack starts it with
    stack.env["CELERY_OPS_SCHEDULER_PREFIX"] = stack.env["THREADS_REDIS_PREFIX"] + "sched"
    # The disk is misconfigured: where thumbnails go there is a file, so that step fails for good.
    thumbs = Path(stack.env["THREADS_MEDIA_ROOT"]) / "images" / "thumbs"
    thumbs.parent.mkdir(parents=True)
    thumbs.write_text("not a directory")
    try:
        yield stack.start()
    finally:
        stack.stop()


def _failed_step(stack) -> dict | None:
    status, found = stack_get(stack, "/ops/api/search?name=generate_thumbnails&state=FAILURE")
    return found["results"][0] if status == 200 and found["results"] else None


def stack_get(stack, path: str):
    return stack.page.evaluate(
        "async (path) => { const r = await fetch(path); return [r.status, await r.json()]; }", path
    )


def test_charts_search_and_the_image_pipeline_graph(stack, tmp_path, chromium_page):
    User.objects.create_user("threads-ops", password="correct horse", is_staff=True)
    connection.close()
    status, user = stack.call(
        "POST",
        "/api/auth/register",
        {"username": "painter", "email": "painter@example.com", "password": "e2e-Pass-word-9"},
    )
    assert status == 201, user
    status, image = stack.call(
        "POST", "/api/images", token=user["token"], files={"file": ("a.png", image_bytes("PNG", (300, 200)))}
    )
    assert status == 202
    page = stack.page = chromium_page
    problems = watch_problems(page)
    page.goto(f"{stack.base}/admin/login/?next=/ops/")
    page.fill("#id_username", "threads-ops")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url(f"{stack.base}/ops/")
    failed = wait_until(lambda: _failed_step(stack), timeout=60, message="the failed thumbnails step")

    # Charts: drawn by the vendored uPlot, with data points from the recorder's buckets.
    page.reload()
    page.wait_for_function(
        "() => Number(document.querySelector('#chart-throughput').dataset.points) > 0", timeout=30_000
    )
    assert page.locator("#chart-throughput canvas").count() == 1
    assert page.locator("#chart-failures").get_attribute("data-points") != "0"
    page.wait_for_function("() => Number(document.querySelector('#chart-runtime').dataset.series) > 0")
    # Live: more traffic shows up in the drawn chart without a reload (the charts poll every 10 s).
    total = float(page.locator("#chart-throughput").get_attribute("data-total"))
    assert stack.call("POST", "/api/auth/register", {**SECOND_USER})[0] == 201
    page.wait_for_function(
        "(total) => Number(document.querySelector('#chart-throughput').dataset.total) >= total + 5",
        arg=total,
        timeout=40_000,
    )
    # The day: one point per 5 minutes, from the coarse buckets.
    page.click('button.span[data-span="24h"]')
    page.wait_for_function(
        "() => document.querySelector('#chart-throughput').dataset.count === '288'"
        " && Number(document.querySelector('#chart-throughput').dataset.points) > 0"
    )
    page.click('button.span[data-span="1h"]')
    page.wait_for_function("() => document.querySelector('#chart-throughput').dataset.count === '60'")
    # The counter flush runs every 0.5 s on the scheduler: hidden from the list by default, shown on demand.
    flush = "threads.tasks.batch_update_counters"
    before = page.evaluate("document.body.dataset.refreshed")
    page.wait_for_function("(before) => document.body.dataset.refreshed !== before", arg=before)
    assert flush not in page.inner_text("#recent tbody")
    page.uncheck("#filter-periodic")
    page.wait_for_selector(f'#recent td code:text-is("{flush}")')
    page.check("#filter-periodic")

    # Find the failed step by its id: the detail opens, with the pipeline drawn as a graph.
    page.fill("#filter-id", failed["id"])
    page.click("#search")
    page.wait_for_selector(f'#recent tr[data-id="{failed["id"]}"] td.state.FAILURE')
    page.wait_for_selector(f'#detail-graph g.node[data-id="{failed["id"]}"]')
    nodes = page.eval_on_selector_all(
        "#detail-graph g.node",
        "(gs) => gs.map((g) => [g.querySelector('title').textContent.split(' ')[0],"
        " g.dataset.state, g.dataset.ran])",
    )
    assert [task for task, _, _ in nodes] == PIPELINE
    assert [(state, ran) for _, state, ran in nodes] == [
        ("SUCCESS", "true"),
        ("SUCCESS", "true"),
        ("SUCCESS", "true"),
        ("FAILURE", "true"),  # the step that failed
        ("FAILURE", "false"),  # stopped by it (Celery marks the rest of a chain failed)
        ("FAILURE", "false"),
    ]
    assert page.locator("#detail-graph path.edge").count() == 5
    detail = page.inner_text("#detail-body")
    assert "FileExistsError" in detail or "NotADirectoryError" in detail
    assert "generate_thumbnails" in page.inner_text("#detail-title")
    shots = Path(os.environ.get("OPS_SCREENSHOTS_DIR") or tmp_path)
    page.screenshot(path=str(shots / "ops-task-detail.png"))
    # One click on a node opens that step.
    page.click("#detail-graph g.node.SUCCESS >> nth=1")
    page.wait_for_function(
        "() => document.querySelector('#detail-title').textContent.includes('validate_image')"
    )
    page.click("#detail-close")
    page.fill("#filter-id", "")
    before = page.evaluate("document.body.dataset.refreshed")
    page.click("#search")
    page.wait_for_function("(before) => document.body.dataset.refreshed !== before", arg=before)
    page.wait_for_selector("#leader code")  # the scheduler daemon leads
    page.screenshot(path=str(shots / "ops-dashboard.png"), full_page=True)
    assert page.evaluate("window.cspViolations") == []
    assert problems == []
    assert image["id"]

"""The guide's documented call sites, run as written (eager here; on real workers in tests/e2e)."""

from __future__ import annotations

import pytest

from tests.threads.support import threads_app_eager
from threads.celery import app
from threads.monitoring import check_task_status
from threads.tasks import process_large_data


def test_process_large_data_delay_then_get(eager):
    data = [1, 2, 3, 4]
    # task call
    task = process_large_data.delay(data)
    result = task.get()  # wait for the result synchronously
    assert result == {"count": 4, "sum": 10.0, "mean": 2.5, "min": 1.0, "max": 4.0}


def test_the_short_names_send_task_uses_are_unambiguous():
    for short in ("notify_followers", "send_welcome_email", "update_recommendations"):
        assert app.resolve_name(short) == f"threads.tasks.{short}"


def test_routes_keep_the_guide_and_send_image_work_to_image_queue():
    assert app.route_for("threads.tasks.fact_check_content")["queue"] == "ai_queue"
    assert app.route_for("threads.tasks.process_image")["queue"] == "image_queue"
    for name in (
        "process_image_pipeline",
        "validate_image",
        "compress_image",
        "generate_thumbnails",
        "update_image_metadata",
        "notify_processing_complete",
    ):
        assert app.route_for(f"threads.tasks.{name}")["queue"] == "image_queue"
    assert app.route_for("threads.tasks.notify_followers")["queue"] == "default"
    assert {"ai_queue", "image_queue", "default"} <= app.routed_queues()


@pytest.mark.django_db
def test_check_task_status_of_an_eager_failure_and_an_unknown_id(threads_current):
    assert check_task_status("never-sent") == {"status": "PENDING", "result": None, "traceback": None}


def test_eager_chain_inside_an_eager_task_runs_as_in_celery(db):
    """A chain applied inside a ``.delay()``-started eager task runs (each step gets the previous result)."""
    from compat import chain, shared_task

    @shared_task(name="tests.actors.probe_step")
    def probe_step(x=0, y=1):
        return x * y + 1

    @shared_task(name="tests.actors.probe_outer")
    def probe_outer():
        return chain(probe_step.s(1), probe_step.s(10)).apply_async().result  # EagerResult: already done

    with threads_app_eager():
        assert probe_outer.delay().get() == 21  # probe_step(1) == 2, then probe_step(2, 10) == 21

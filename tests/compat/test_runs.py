"""The run protocol (compat.runs): a delivered message's body runs as that message exactly once."""

from __future__ import annotations

import pytest
from dramatiq import Worker

from compat import Celery, runs


@pytest.fixture
def app():
    app = Celery("runs", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_default_queue = "q"
    return app


@pytest.fixture
def run(app):
    broker = app.broker
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()

    def drain():
        for queue in list(broker.queues):
            broker.join(queue, fail_fast=False, timeout=10_000)
        worker.join()

    yield drain
    worker.stop()
    broker.flush_all()


def test_a_task_calling_itself_directly_inside_its_delivery_is_a_plain_call(app, run):
    seen = []

    @app.task(bind=True)
    def countdown(self, n):
        seen.append((n, self.request.called_directly, self.request.id))
        return n if n == 0 else countdown(n - 1)

    result = countdown.delay(2)
    run()
    assert result.get(timeout=5) == 0
    assert seen[0] == (2, False, result.id)  # the delivered message
    # Not the delivery again (the run is entered once), but Celery 5.7's push_request: the running
    # request with the call's arguments (tests/conformance: direct_self_call_inherits_the_request)
    assert seen[1:] == [(1, False, result.id), (0, False, result.id)]


def test_after_a_delivery_the_worker_thread_holds_no_run_to_enter_or_big_result(app, run):
    import dramatiq

    seen = {}

    @app.task(bind=True)
    def who(self):
        return self.request.called_directly

    @app.task
    def big():
        return "x" * 100_000

    @dramatiq.actor(broker=app.broker, queue_name="q")
    def later():  # a plain actor, run by the same (only) worker thread afterwards
        stale = runs._current.get()
        seen["result_json"] = stale.result_json if stale is not None else None
        seen["direct"] = who()

    first, second = who.delay(), big.delay()
    run()
    later.send()
    run()
    assert first.get(timeout=5) is False and len(second.get(timeout=5)) == 100_000
    assert seen == {"result_json": None, "direct": True}

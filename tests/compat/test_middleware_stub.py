"""Each facade middleware on Dramatiq's StubBroker with an in-process Worker (pure logic, no Redis)."""

from __future__ import annotations

import time

import pytest
from dramatiq import Worker

from compat import Celery, chain, chord, group, states
from compat.exceptions import TaskRevokedError


@pytest.fixture
def app():
    app = Celery("stubtest", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_default_queue = "q"
    return app


@pytest.fixture
def run(app):
    """Start a worker on the stub broker; ``run()`` waits until every queue is drained."""
    broker = app.broker
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()

    def drain():
        for queue in list(broker.queues):
            broker.join(queue, fail_fast=False, timeout=10_000)
        worker.join()

    yield drain
    worker.stop()
    broker.flush_all()


def test_task_state_records_success_failure_and_started(app, run):
    @app.task(track_started=True)
    def ok(x):
        return x * 2

    @app.task
    def bad():
        raise KeyError("nope")

    good, failed = ok.delay(21), bad.delay()
    run()
    assert good.get(timeout=1) == 42 and good.state == states.SUCCESS
    assert failed.state == states.FAILURE and isinstance(failed.result, KeyError)
    assert "KeyError: 'nope'" in failed.traceback


def test_celery_retries_resend_with_same_id(app, run):
    @app.task(bind=True, max_retries=2, default_retry_delay=0.01)
    def flaky(self):
        if self.request.retries < 2:
            raise self.retry()
        return self.request.retries

    result = flaky.delay()
    run()
    time.sleep(0.1)
    run()
    assert result.get(timeout=2) == 2


def test_canvas_continuation_runs_chain_group_and_chord(app, run):
    @app.task
    def add(x, y):
        return x + y

    @app.task
    def total(values):
        return sum(values)

    chained = chain(add.s(1, 1), add.s(2)).apply_async()
    grouped = group(add.s(1, 2), add.s(3, 4)).apply_async()
    chorded = chord([add.s(1, 1), add.s(2, 2)], total.s()).apply_async()
    for _ in range(3):
        run()
    assert chained.get(timeout=1) == 4
    assert grouped.get(timeout=1) == [3, 7]
    assert chorded.get(timeout=1) == 6


def test_revocation_skips_and_stores_revoked(app, run):
    @app.task
    def never():
        return "ran"

    result = never.apply_async(countdown=0.2)
    result.revoke()
    run()
    assert result.state == states.REVOKED
    with pytest.raises(TaskRevokedError):
        result.get(timeout=1)


def test_soft_time_limit_interrupts(app, run):
    from compat.exceptions import SoftTimeLimitExceeded

    @app.task(soft_time_limit=0.2)
    def slow():
        try:
            time.sleep(2)
        except SoftTimeLimitExceeded:
            return "interrupted"
        return "finished"

    result = slow.delay()
    run()
    assert result.get(timeout=3) == "interrupted"


def test_a_facade_result_is_not_reported_as_discarded_but_a_plain_actors_is(app, run):
    """Dramatiq warns that an actor's return value is discarded without its Results middleware: right
    for a plain actor on the facade's broker, wrong for a facade task (the facade stores it), for which no
    log record is even built (one per stored result was a measurable share of a worker's time)."""
    import logging

    import dramatiq

    @app.task
    def kept(x):
        return x + 1

    @dramatiq.actor(broker=app.broker, queue_name="q", actor_name="plain_returns")
    def plain_returns(x):
        return x

    records = []
    logger = logging.getLogger("dramatiq.worker.WorkerThread")
    seen = logging.Filter()
    seen.filter = lambda record: records.append(record.getMessage()) or True
    logger.filters.insert(0, seen)  # before the facade's own filter, which drops what reaches it
    try:
        result = kept.delay(1)
        plain_returns.send(5)
        run()
    finally:
        logger.removeFilter(seen)
    assert result.get(timeout=5) == 2
    warned = [text for text in records if "returned a value that is not None" in text]
    assert len(warned) == 1 and "'plain_returns'" in warned[0]

"""The compat (facade) stack's tasks; also a worker module: ``python -m dramatiq bench.stack_compat``."""

from __future__ import annotations

import os
import time

from compat import Celery

from . import counters, marks

app = Celery("bench", broker=counters.BROKER, backend=counters.URL)
app.conf.update(
    broker_namespace=f"{counters.PREFIX}-compat",
    result_namespace=f"{counters.PREFIX}-compat-r",
    task_default_queue="bench",
    # BENCH_COMPAT_METRICS=0 turns the dashboard's recorder off, to measure what it costs (issue 9).
    worker_metrics=os.environ.get("BENCH_COMPAT_METRICS", "1") != "0",
)


def _connect_signal_receivers() -> None:
    """BENCH_COMPAT_SIGNALS=1: a no-op receiver on every task and publish signal, in the client and the
    workers, to measure what a project with signal handlers (paperless-style tracking) pays (issue 16)."""
    from compat import signals

    def receiver(*args, **kwargs):
        return None

    for signal in (
        signals.before_task_publish, signals.after_task_publish, signals.task_received,
        signals.task_prerun, signals.task_postrun, signals.task_success, signals.task_failure,
        signals.task_retry,
    ):
        signal.connect(receiver, weak=False)


if os.environ.get("BENCH_COMPAT_SIGNALS") == "1":
    _connect_signal_receivers()


@app.task(name="bench.trivial", ignore_result=True)
def trivial(num):
    marks.mark()


@app.task(name="bench.trivial_r")
def trivial_r(num):
    marks.mark()
    return num


@app.task(name="bench.noop", ignore_result=True)
def noop():
    counters.done()


@app.task(name="bench.noop_r")
def noop_r():
    counters.done()


@app.task(name="bench.payload", ignore_result=True)
def payload(data):
    counters.done()


@app.task(name="bench.stamp", ignore_result=True)
def stamp(sent_at):
    counters.started(sent_at)


@app.task(name="bench.timed")
def timed(sent_at):
    start = time.time()
    return [start, time.time()]


@app.task(name="bench.step")
def step(value=None):
    return value


@app.task(name="bench.collect")
def collect(values):
    return len(values)


@app.task(name="bench.flaky", bind=True, ignore_result=True, max_retries=3)
def flaky(self, i):
    if i % 2 == 0 and self.request.retries == 0:
        raise self.retry(countdown=0.01)
    counters.done()

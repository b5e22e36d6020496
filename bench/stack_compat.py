"""The compat (facade) stack's tasks; also a worker module: ``python -m dramatiq bench.stack_compat``."""

from __future__ import annotations

import os
import time

from compat import Celery

from . import counters, marks

app = Celery("bench", broker=counters.URL, backend=counters.URL)
app.conf.update(
    broker_namespace=f"{counters.PREFIX}-compat",
    result_namespace=f"{counters.PREFIX}-compat-r",
    task_default_queue="bench",
    # BENCH_COMPAT_METRICS=0 turns the dashboard's recorder off, to measure what it costs (issue 9).
    worker_metrics=os.environ.get("BENCH_COMPAT_METRICS", "1") != "0",
)


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

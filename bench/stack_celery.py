"""The Celery 5.7 stack's tasks; also a worker app: ``celery -A bench.stack_celery worker -P threads -c 8``.

Set to match Dramatiq: JSON, prefetch 2 x threads (multiplier 2 with 8 threads), acks after the task runs
(Dramatiq always acks late), no gossip/mingle/heartbeat/events, results in Redis with Celery's defaults.
"""

from __future__ import annotations

import time

from celery import Celery

from . import counters, marks

app = Celery("bench", broker=counters.BROKER, backend=counters.URL)
_prefix = {"global_keyprefix": f"{counters.PREFIX}-celery:"}  # on RabbitMQ the run's vhost isolates it
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="bench",
    worker_prefetch_multiplier=2,
    task_acks_late=True,
    worker_hijack_root_logger=False,
    broker_transport_options={} if counters.ON_RABBITMQ else _prefix,
    result_backend_transport_options=_prefix,
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
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

"""Huey's stack: ``RedisHuey`` with its defaults; also a consumer module for ``huey_consumer``.

Two consumer processes with ``-k thread -w 8`` match the others' 2 processes x 8 threads. Huey stores a
task's return value unless it is None, so the ``_r`` tasks return their argument and the others None.
"""

from __future__ import annotations

import time

from huey import RedisHuey

from . import counters, marks

huey = RedisHuey(name=f"{counters.PREFIX}-huey", url=counters.URL)


@huey.task(name="bench.trivial")
def trivial(num):
    marks.mark()


@huey.task(name="bench.trivial_r")
def trivial_r(num):
    marks.mark()
    return num


@huey.task(name="bench.noop")
def noop():
    counters.done()


@huey.task(name="bench.noop_r")
def noop_r():
    counters.done()
    return 1


@huey.task(name="bench.payload")
def payload(data):
    counters.done()


@huey.task(name="bench.stamp")
def stamp(sent_at):
    counters.started(sent_at)


@huey.task(name="bench.timed")
def timed(sent_at):
    start = time.time()
    return [start, time.time()]


@huey.task(name="bench.flaky", retries=1, retry_delay=0.01, context=True)
def flaky(i, task=None):
    if i % 2 == 0 and task.retries == 1:  # Huey counts the retries left
        raise RuntimeError("retry once")
    counters.done()

"""taskiq's stack: taskiq-redis ``RedisStreamBroker`` (the public benchmark's choice), no result backend.

Also a worker module: ``taskiq worker bench.stack_taskiq:broker --workers 2 --max-async-tasks 8`` (2
processes x 8 concurrent tasks, like the others' 8 threads). taskiq stores every task's result once a
result backend is attached (there is no per-task ignore), so this stack has none and skips the
workloads that read results back.
"""

from __future__ import annotations

from taskiq_redis import RedisStreamBroker

from . import counters, marks

broker = RedisStreamBroker(
    url=counters.URL, queue_name=f"{counters.PREFIX}-taskiq", consumer_group_name=f"{counters.PREFIX}-taskiq"
)


@broker.task(task_name="bench.trivial")
async def trivial(num):
    marks.mark()


@broker.task(task_name="bench.noop")
def noop():
    counters.done()


@broker.task(task_name="bench.payload")
def payload(data):
    counters.done()


@broker.task(task_name="bench.stamp")
def stamp(sent_at):
    counters.started(sent_at)

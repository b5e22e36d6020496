"""The Celery 5.7 side of the import-celery test: a producer (and, for unacknowledged messages, a real
Celery worker) on the Celery broker named by ``CUTOVER_CELERY_BROKER``."""

from __future__ import annotations

import os

from celery import Celery

BROKER = os.environ.get("CUTOVER_CELERY_BROKER", "redis://127.0.0.1:6379/1")

app = Celery("cutover", broker=BROKER)
app.conf.update(task_default_queue="celery", broker_connection_retry_on_startup=True)

#: A producer that still sends pickle, as paperless-ngx and DefectDojo configure Celery.
pickling = Celery("cutover-pickle", broker=BROKER, set_as_current=False)
pickling.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])


@app.task(name="cut.add")
def add(a, b):
    return a + b


@app.task(name="cut.other")
def other(*args, **kwargs):
    return args, kwargs

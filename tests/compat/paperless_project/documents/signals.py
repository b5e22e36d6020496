"""The task tracker: rows created when a consume task is published, updated as it runs."""

import logging
import os

from django.db import close_old_connections, connections
from django.utils import timezone

from compat import states
from compat.signals import before_task_publish, task_failure, task_postrun, task_prerun, worker_process_init

logger = logging.getLogger("paperless.tasks")
TRACKED = ("documents.tasks.consume_file",)


@before_task_publish.connect
def before_task_publish_handler(sender=None, headers=None, body=None, **kwargs):
    if headers is None or headers.get("task") not in TRACKED:
        return
    from .models import TrackedTask

    close_old_connections()
    args, task_kwargs, _ = body
    TrackedTask.objects.create(
        task_id=headers["id"], task_name=headers["task"], task_file_name=os.path.basename(args[0]),
        status=states.PENDING, date_created=timezone.now(),
    )


@task_prerun.connect
def task_prerun_handler(sender=None, task_id=None, task=None, **kwargs):
    from .models import TrackedTask

    close_old_connections()
    TrackedTask.objects.filter(task_id=task_id).update(
        status=states.STARTED, date_started=timezone.now(), worker_pid=os.getpid()
    )


@task_postrun.connect
def task_postrun_handler(sender=None, task_id=None, task=None, retval=None, state=None, **kwargs):
    from .models import TrackedTask

    close_old_connections()
    if state == states.SUCCESS:
        TrackedTask.objects.filter(task_id=task_id).update(
            status=state, result=retval, date_done=timezone.now()
        )


@task_failure.connect
def task_failure_handler(sender=None, task_id=None, exception=None, args=None, traceback=None, **kwargs):
    from .models import TrackedTask

    close_old_connections()
    TrackedTask.objects.filter(task_id=task_id).update(
        status=states.FAILURE, result=f"{type(exception).__name__}: {exception}", date_done=timezone.now()
    )


@worker_process_init.connect
def close_connections_on_worker_init(**kwargs):
    """A pool process must not reuse connections its parent opened."""
    for connection in connections.all():
        connection.close()
    logger.info("worker process %s: database connections closed", os.getpid())
    logger.info("lifecycle %s worker_process_init", os.getpid())

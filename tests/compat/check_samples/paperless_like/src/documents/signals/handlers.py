from celery import states
from celery.signals import before_task_publish, task_failure, task_postrun, task_prerun

from documents.models import PaperlessTask


@before_task_publish.connect
def before_task_publish_handler(sender=None, headers=None, body=None, **kwargs):
    """Record each consume task in the database as it is sent."""
    if "task" not in headers or headers["task"] != "documents.tasks.consume_file":
        return
    PaperlessTask.objects.create(task_id=headers["id"], status=states.PENDING, task_name=headers["task"])


@task_prerun.connect
def task_prerun_handler(sender=None, task_id=None, task=None, **kwargs):
    PaperlessTask.objects.filter(task_id=task_id).update(status=states.STARTED)


@task_postrun.connect
def task_postrun_handler(sender=None, task_id=None, task=None, retval=None, state=None, **kwargs):
    PaperlessTask.objects.filter(task_id=task_id).update(status=state, result=retval)


@task_failure.connect
def task_failure_handler(sender=None, task_id=None, exception=None, traceback=None, **kwargs):
    PaperlessTask.objects.filter(task_id=task_id).update(status=states.FAILURE)

import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.management import call_command

from kobo.celery import celery_app
from kpi.models import ImportTask


@celery_app.task(
    autoretry_for=(ImportTask.DoesNotExist,),
    retry_backoff=True,
    max_retries=5,
    time_limit=settings.CELERY_TASK_TIME_LIMIT + 60,
    soft_time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def import_in_background(import_task_uid):
    import_task = ImportTask.objects.get(uid=import_task_uid)
    try:
        import_task.run()
    except SoftTimeLimitExceeded:
        import_task.mark_timed_out()
    return import_task.uid


@celery_app.task(queue="kpi_low_priority_queue", acks_late=True, reject_on_worker_lost=True)
def sync_kobocat_xforms(username=None, quiet=True):
    call_command("sync_kobocat_xforms", username=username, quiet=quiet)


@celery_app.task
def enketo_flush_cached_preview(server_url, form_id):
    time.sleep(1)
    return server_url, form_id


def start_import(user, uid):
    import_in_background.delay(import_task_uid=uid)
    enketo_flush_cached_preview.apply_async(args=(user.server, uid), queue="kpi_queue", priority=3)

from celery import chain, group
from celery.signals import task_failure

from kobo.celery import celery_app


@celery_app.task(bind=True, max_retries=3, default_retry_delay=60)
def move_attachments(self, transfer_id):
    return transfer_id


@celery_app.task
def mark_done(results, transfer_id):
    return transfer_id


def transfer_project(transfer_ids):
    steps = group(move_attachments.s(transfer_id) for transfer_id in transfer_ids)
    return chain(steps, mark_done.si(None, transfer_ids[0])).apply_async()


@task_failure.connect(sender=move_attachments)
def move_attachments_failed(sender=None, task_id=None, **kwargs):
    return task_id

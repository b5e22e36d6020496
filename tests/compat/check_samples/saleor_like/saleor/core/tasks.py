import logging

from celery import Task

logger = logging.getLogger(__name__)


class RestrictWriterDBTask(Task):
    """Tasks that must not write through the replica connection."""

    def __call__(self, *args, **kwargs):
        logger.debug("entering %s", self.name)
        return super().__call__(*args, **kwargs)


class WebhookTask(RestrictWriterDBTask):
    autoretry_for = (ConnectionError,)
    retry_backoff = 10
    retry_jitter = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        logger.warning("webhook delivery %s failed for good: %s", task_id, exc)

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        logger.info("retrying webhook delivery %s", task_id)

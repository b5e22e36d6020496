from django.conf import settings

from saleor.celeryconf import app
from saleor.core.tasks import RestrictWriterDBTask, WebhookTask
from saleor.webhook.models import EventDelivery


@app.task(
    queue=settings.WEBHOOK_CELERY_QUEUE_NAME,
    bind=True,
    base=WebhookTask,
    retry_backoff=10,
    retry_kwargs={"max_retries": 5},
)
def send_webhook_request_async(self, event_delivery_id):
    delivery = EventDelivery.objects.get(pk=event_delivery_id)
    try:
        return delivery.send()
    except TimeoutError as exc:
        raise self.retry(exc=exc, countdown=30)


@app.task(base=RestrictWriterDBTask, compression="zlib")
def trigger_webhooks_async(data, event_type, webhooks):
    for webhook in webhooks:
        delivery = EventDelivery.objects.create(webhook_id=webhook, event_type=event_type, payload=data)
        send_webhook_request_async.apply_async(
            kwargs={"event_delivery_id": delivery.pk},
            queue=settings.WEBHOOK_CELERY_QUEUE_NAME,
            MessageGroupId=str(webhook),
            bind=True,
        )


def deliver_later(delivery_ids):
    deliveries = EventDelivery.objects.filter(pk__in=delivery_ids)
    for delivery in deliveries:
        send_webhook_request_async.apply_async(args=[delivery], countdown=5, retry=False)

"""Operator alerts, and the guide's ``robust_task`` that raises one when it gives up."""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import mail_admins
from django.db import IntegrityError

from compat import shared_task
from threads.models import Alert

logger = logging.getLogger(__name__)


@shared_task(name="threads.tasks.send_alert", bind=True)
def send_alert(self, message: str) -> dict[str, Any]:
    """Record, log and mail (to ``ADMINS``) an operator alert, once per task id."""
    key = self.request.id or None
    try:
        if key:
            alert, created = Alert.objects.get_or_create(dedupe_key=key, defaults={"message": message})
        else:
            alert, created = Alert.objects.create(message=message), True
    except IntegrityError:  # a concurrent redelivery won the race
        return {"alert": None, "created": False}
    if created:
        logger.error("ALERT: %s", message)
        mail_admins("Threads alert", message, fail_silently=True)
    return {"alert": alert.pk, "created": created}


def process_data(data: Any) -> Any:
    """The work ``robust_task`` protects: the sum of a list of numbers (``ValueError`` otherwise)."""
    if not isinstance(data, list) or not all(isinstance(item, (int, float)) for item in data):
        raise ValueError(f"process_data expects a list of numbers, got {data!r}")
    return sum(data)


@shared_task(name="threads.tasks.robust_task", bind=True)
def robust_task(self, data):
    """The guide's error-handling example, verbatim: retry up to 3 times, then alert."""
    try:
        # task logic
        return process_data(data)
    except Exception as exc:
        # log the error
        logger.error(f"Task failed: {exc}")
        # retry, or raise an alert
        if self.request.retries < 3:
            raise self.retry(countdown=60)
        else:
            send_alert.delay(f"Task {self.request.id} failed permanently")

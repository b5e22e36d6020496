"""The transactional outbox's table: enqueue intents written in the transaction of the change they follow."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class OutboxEntry(models.Model):
    """One event to deliver once its transaction has committed (a task message, or a registered kind).

    Life: written with the change (``due_at`` a little ahead, so relays leave it to the committing
    process), delivered after commit by that process or later by a relay (``due_at`` NULL, ``sent_at``
    set), claimed by the worker that runs it (``run_token``), deleted after ``expires_at``. Kinds that
    need no worker-side dedupe are deleted as soon as they are delivered.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=100)
    #: JSON only: compat's wire JSON, with datetimes, Decimals and UUIDs in ``__type__`` envelopes.
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    #: When a relay may (re)try it; NULL once delivered.
    due_at = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True)
    #: The send token of the delivery that ran (a copy with another token is a duplicate).
    run_token = models.CharField(max_length=32, blank=True, default="")
    #: Delivered rows are deleted after this (kept meanwhile to recognise duplicates).
    expires_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "compat_outbox"
        indexes = [
            models.Index(fields=["due_at"], name="compat_outbox_due"),
            models.Index(fields=["expires_at"], name="compat_outbox_expires"),
        ]
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"

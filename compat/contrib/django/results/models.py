"""django-celery-results' models on its own tables (same names, columns and types), without Celery.

Rows are written as django-celery-results writes them with the JSON serializer: ``content_type``
``application/json``, ``content_encoding`` ``utf-8``, ``result`` the JSON of the value (an exception as
``{"exc_type", "exc_message", "exc_module"}``), ``meta`` the JSON of ``{"children": [...]}``, and with
``result_extended`` ``task_name``, ``worker`` and ``task_args``/``task_kwargs`` as the JSON of the
arguments' ``repr`` (Celery's ``argsrepr``). ``compat.contrib.django.results.store`` reads and writes them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

ID_LENGTH = getattr(settings, "DJANGO_CELERY_RESULTS_TASK_ID_MAX_LENGTH", 255)


class TaskResult(models.Model):
    """One task's latest state, result and traceback."""

    task_id = models.CharField(max_length=ID_LENGTH, unique=True, verbose_name=_("Task ID"))
    periodic_task_name = models.CharField(null=True, max_length=255, verbose_name=_("Periodic Task Name"))
    task_name = models.CharField(null=True, max_length=ID_LENGTH, verbose_name=_("Task Name"))
    task_args = models.TextField(null=True, verbose_name=_("Task Positional Arguments"))
    task_kwargs = models.TextField(null=True, verbose_name=_("Task Named Arguments"))
    status = models.CharField(max_length=50, default="PENDING", verbose_name=_("Task State"))
    worker = models.CharField(max_length=100, default=None, null=True, verbose_name=_("Worker"))
    content_type = models.CharField(max_length=128, verbose_name=_("Result Content Type"))
    content_encoding = models.CharField(max_length=64, verbose_name=_("Result Encoding"))
    result = models.TextField(null=True, default=None, editable=False, verbose_name=_("Result Data"))
    date_created = models.DateTimeField(auto_now_add=True, verbose_name=_("Created DateTime"))
    date_started = models.DateTimeField(null=True, default=None, verbose_name=_("Started DateTime"))
    date_done = models.DateTimeField(auto_now=True, verbose_name=_("Completed DateTime"))
    traceback = models.TextField(blank=True, null=True, verbose_name=_("Traceback"))
    meta = models.TextField(null=True, default=None, editable=False, verbose_name=_("Task Meta Information"))

    class Meta:
        db_table = "django_celery_results_taskresult"
        ordering = ["-date_done"]
        verbose_name = _("task result")
        verbose_name_plural = _("task results")
        indexes = [  # django-celery-results' index names, so both apps agree on the schema
            models.Index(fields=["task_name"], name="django_cele_task_na_08aec9_idx"),
            models.Index(fields=["status"], name="django_cele_status_9b6201_idx"),
            models.Index(fields=["worker"], name="django_cele_worker_d54dd8_idx"),
            models.Index(fields=["date_created"], name="django_cele_date_cr_f04a50_idx"),
            models.Index(fields=["date_done"], name="django_cele_date_do_f59aad_idx"),
            models.Index(fields=["periodic_task_name"], name="django_cele_periodi_1993cf_idx"),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "task_name": self.task_name,
            "task_args": self.task_args,
            "task_kwargs": self.task_kwargs,
            "status": self.status,
            "result": self.result,
            "date_done": self.date_done,
            "traceback": self.traceback,
            "meta": self.meta,
            "worker": self.worker,
        }

    def __str__(self) -> str:
        return f"<Task: {self.task_id} ({self.status})>"


class ChordCounter(models.Model):
    """A chord's header members still to succeed; the one member that brings it to 0 sends the body."""

    group_id = models.CharField(max_length=ID_LENGTH, unique=True, verbose_name=_("Group ID"))
    #: JSON list of the header members' result tuples.
    sub_tasks = models.TextField()
    count = models.PositiveIntegerField()

    class Meta:
        db_table = "django_celery_results_chordcounter"

    def group_result(self, app: Any = None) -> Any:
        """The header as a ``compat.result.GroupResult``."""
        from compat.result import GroupResult, result_from_tuple

        members = [result_from_tuple(item, app=app) for item in json.loads(self.sub_tasks)]
        return GroupResult(self.group_id, members, app=app)


class GroupResult(models.Model):
    """A saved group (``GroupResult.save()``, a chord's header): its members' result tuples."""

    group_id = models.CharField(max_length=ID_LENGTH, unique=True, verbose_name=_("Group ID"))
    date_created = models.DateTimeField(auto_now_add=True, verbose_name=_("Created DateTime"))
    date_done = models.DateTimeField(auto_now=True, verbose_name=_("Completed DateTime"))
    content_type = models.CharField(max_length=128, verbose_name=_("Result Content Type"))
    content_encoding = models.CharField(max_length=64, verbose_name=_("Result Encoding"))
    result = models.TextField(null=True, default=None, editable=False, verbose_name=_("Result Data"))

    class Meta:
        db_table = "django_celery_results_groupresult"
        ordering = ["-date_done"]
        verbose_name = _("group result")
        verbose_name_plural = _("group results")
        indexes = [
            models.Index(fields=["date_created"], name="django_cele_date_cr_bd6c1d_idx"),
            models.Index(fields=["date_done"], name="django_cele_date_do_caae0e_idx"),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {"group_id": self.group_id, "result": self.result, "date_done": self.date_done}

    def __str__(self) -> str:
        return f"<Group: {self.group_id}>"

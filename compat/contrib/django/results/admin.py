"""Task and group results in the admin: read-only lists with django-celery-results' filters and search."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import GroupResult, TaskResult


class ReadOnly(admin.ModelAdmin):
    """Rows are the workers' record of what ran: shown, searched and filtered, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TaskResult)
class TaskResultAdmin(ReadOnly):
    date_hierarchy = "date_done"
    list_display = ("task_id", "periodic_task_name", "task_name", "date_done", "status", "worker")
    list_filter = ("status", "date_done", "periodic_task_name", "task_name", "worker")
    search_fields = ("task_name", "task_id", "status", "task_args", "task_kwargs")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "task_id",
                    "task_name",
                    "periodic_task_name",
                    "status",
                    "worker",
                    "content_type",
                    "content_encoding",
                )
            },
        ),
        ("Parameters", {"fields": ("task_args", "task_kwargs")}),
        ("Result", {"fields": ("result", "date_created", "date_started", "date_done", "traceback", "meta")}),
    )


@admin.register(GroupResult)
class GroupResultAdmin(ReadOnly):
    date_hierarchy = "date_done"
    list_display = ("group_id", "date_done")
    list_filter = ("date_done",)
    search_fields = ("group_id",)

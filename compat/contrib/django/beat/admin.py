"""The periodic-task admin: registered task names to pick from, crontabs in words, (de)activate, run now."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)


def registered_tasks() -> list[str]:
    """Task names the current app knows (its built-ins last)."""
    from compat.app import get_current_app

    names = sorted(get_current_app().tasks)
    return [n for n in names if not n.startswith(("celery.", "compat."))] + [
        n for n in names if n.startswith(("celery.", "compat."))
    ]


class PeriodicTaskForm(forms.ModelForm):
    """``task`` is picked from the registered tasks (a name typed by hand is still accepted)."""

    registered = forms.ChoiceField(label="Task (registered)", required=False)

    class Meta:
        model = PeriodicTask
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["registered"].choices = [("", "---------")] + [(n, n) for n in registered_tasks()]
        self.fields["task"].required = False
        if self.instance.pk and self.instance.task in dict(self.fields["registered"].choices):
            self.initial["registered"] = self.instance.task

    def clean(self) -> dict:
        data = super().clean()
        data["task"] = data.get("registered") or data.get("task")
        if not data["task"]:
            raise forms.ValidationError("Pick a registered task or type a task name.")
        self.instance.task = data["task"]
        self.instance.clean()
        return data


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(admin.ModelAdmin):
    form = PeriodicTaskForm
    list_display = ("name", "task", "enabled", "schedule_text", "one_off", "last_run_at", "total_run_count")
    list_filter = ("enabled", "one_off", "task")
    search_fields = ("name", "task", "description")
    readonly_fields = ("last_run_at", "total_run_count", "date_changed")
    actions = ("enable_tasks", "disable_tasks", "run_tasks")
    fieldsets = (
        (None, {"fields": ("name", "registered", "task", "enabled", "description")}),
        ("Schedule", {"fields": ("interval", "crontab", "solar", "clocked", "start_time", "one_off")}),
        ("Arguments", {"fields": ("args", "kwargs")}),
        ("Execution", {"fields": ("queue", "priority", "headers", "expires", "expire_seconds")}),
        ("Runs", {"fields": ("last_run_at", "total_run_count", "date_changed")}),
    )

    @admin.display(description="schedule")
    def schedule_text(self, task: PeriodicTask) -> str:
        row = task.scheduler
        return row.human_readable if isinstance(row, CrontabSchedule) else str(row or "")

    @admin.action(description="Enable selected tasks")
    def enable_tasks(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._toggle(request, queryset, True)

    @admin.action(description="Disable selected tasks")
    def disable_tasks(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._toggle(request, queryset, False)

    def _toggle(self, request: HttpRequest, queryset: QuerySet, enabled: bool) -> None:
        count = 0
        for task in queryset:  # save(): disabling clears last_run_at, as in django-celery-beat
            if task.enabled != enabled:
                task.enabled = enabled
                task.save()
                count += 1
        PeriodicTasks.update_changed()
        self.message_user(
            request, f"{count} task{'s' * (count != 1)} {'enabled' if enabled else 'disabled'}."
        )

    @admin.action(description="Run selected tasks now")
    def run_tasks(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Send each task once now, with its arguments and options (its schedule is not touched)."""
        import json

        from compat.app import get_current_app

        app, sent = get_current_app(), []
        for task in queryset:
            options = {
                "queue": task.queue,
                "priority": task.priority,
                "headers": json.loads(task.headers or "{}"),
            }
            try:
                app.send_task(
                    task.task,
                    args=json.loads(task.args or "[]"),
                    kwargs=json.loads(task.kwargs or "{}"),
                    **{k: v for k, v in options.items() if v not in (None, {})},
                )
            except Exception as exc:  # an unknown name, bad JSON, the broker down: say so, send the rest
                self.message_user(request, f"{task.name}: not sent ({exc})", messages.ERROR)
                continue
            sent.append(task.name)
        if sent:
            self.message_user(request, f"Sent now: {', '.join(sent)}.")


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "human_readable")


admin.site.register(IntervalSchedule)
admin.site.register(SolarSchedule)
admin.site.register(ClockedSchedule)

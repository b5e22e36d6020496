"""The dashboard's Django app: its label names the template and static folders (``compat_ops/``)."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    label = "compat_ops"
    verbose_name = "Task operations dashboard"

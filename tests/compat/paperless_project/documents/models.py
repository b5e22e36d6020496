from django.db import models


class TrackedTask(models.Model):
    """One row per consume task, kept up to date by signal receivers only (paperless's task model)."""

    task_id = models.CharField(max_length=255, unique=True)
    task_name = models.CharField(max_length=255)
    task_file_name = models.CharField(max_length=255, null=True)
    status = models.CharField(max_length=30, default="PENDING")
    result = models.TextField(null=True)
    worker_pid = models.IntegerField(null=True)
    date_created = models.DateTimeField(null=True)
    date_started = models.DateTimeField(null=True)
    date_done = models.DateTimeField(null=True)

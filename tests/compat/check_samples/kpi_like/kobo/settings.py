import os

from celery.schedules import crontab

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/1")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
# Reclaim the memory of the big imports: a new worker process every 7 tasks.
CELERY_WORKER_MAX_TASKS_PER_CHILD = 7
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 500_000
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERYD_TASK_TIME_LIMIT", 7260))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "fanout_patterns": True,
    "fanout_prefix": True,
    "visibility_timeout": 120 * (10**3),
}
CELERY_TASK_DEFAULT_QUEUE = "kpi_queue"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sync-kobocat-xforms": {
        "task": "kpi.tasks.sync_kobocat_xforms",
        "schedule": crontab(minute=0),
        "options": {"queue": "kpi_low_priority_queue"},
    },
}
CELERYD_PREFETCH_MULTIPLIER = 1

INSTALLED_APPS = ("django.contrib.admin", "django_celery_beat", "kpi")

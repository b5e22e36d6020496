import os

from celery.schedules import crontab

TIME_ZONE = os.getenv("PAPERLESS_TIME_ZONE", "UTC")

INSTALLED_APPS = [
    "django.contrib.auth",
    "documents.apps.DocumentsConfig",
    "django_celery_results",
]

_REDIS_URL = os.getenv("PAPERLESS_REDIS", "redis://localhost:6379")

CELERY_BROKER_URL = _REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CONCURRENCY = int(os.getenv("PAPERLESS_TASK_WORKERS", "1"))
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_SEND_TASK_SENT_EVENT = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_TIME_LIMIT = int(os.getenv("PAPERLESS_WORKER_TIMEOUT", "1800"))
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_BACKEND = "django-db"
CELERY_CACHE_BACKEND = "default"
# The consumer passes dataclasses to its tasks, which only pickle carries.
CELERY_TASK_SERIALIZER = "pickle"
CELERY_ACCEPT_CONTENT = ["application/x-python-serialize"]
CELERY_BEAT_SCHEDULE = {
    "Train the classifier": {
        "task": "documents.tasks.train_classifier",
        "schedule": crontab(minute="5", hour="*/1"),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = os.path.join("/tmp", "celerybeat-schedule.db")

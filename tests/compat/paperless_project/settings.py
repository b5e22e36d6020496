"""Settings of the paperless-style project: SQLite, Redis from PAPERLESS_REDIS, Celery's settings block."""

import os

SECRET_KEY = "paperless-like-tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "compat.contrib.django",
    "tests.compat.paperless_project.documents",
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("PAPERLESS_DB", ":memory:")}
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_REDIS_URL = os.environ.get("PAPERLESS_REDIS", "redis://localhost:6379")
CELERY_BROKER_URL = _REDIS_URL
CELERY_RESULT_BACKEND = _REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CONCURRENCY = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_RESULT_EXTENDED = True
CELERY_BROKER_NAMESPACE = os.environ.get("PAPERLESS_NAMESPACE", "paperless")  # compat's own setting
CELERY_RESULT_NAMESPACE = os.environ.get("PAPERLESS_NAMESPACE", "paperless") + "-res"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"verbose": {"format": "[{asctime}] [{levelname}] [{name}] {message}", "style": "{"}},
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "filename": os.environ.get("PAPERLESS_LOG_FILE", os.devnull),
            "formatter": "verbose",
        }
    },
    "loggers": {"paperless": {"handlers": ["file"], "level": "DEBUG", "propagate": False}},
}

"""Settings: the database from ``LAYOUT_DATABASE_URL``, the broker from ``COMPAT_TEST_BROKER``."""

import os
from pathlib import Path

import dj_database_url  # not threads.dburl: importing the threads package would make its app current

BASE_DIR = Path(__file__).resolve().parents[3]
SECRET_KEY = "results-test"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {"default": dj_database_url.parse(os.environ["LAYOUT_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("RESULTS_TEST_CONN_MAX_AGE", "0"))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several worker processes write on one SQLite file: WAL lets readers go on while one writes, and
    # IMMEDIATE transactions take the write lock up front (docs/compat.md, "Results on Django").
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "compat.contrib.django",
    "compat.contrib.django.results",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "tests.compat.results_project.urls"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "results_cache"}}

CELERY_BROKER_URL = os.environ.get("COMPAT_TEST_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("COMPAT_TEST_RESULT_BACKEND", "django-db")
CELERY_BROKER_NAMESPACE = os.environ.get("COMPAT_TEST_NS", "results-test")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True

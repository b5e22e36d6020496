"""Settings both projects share; the database comes from ``LAYOUT_DATABASE_URL``."""

import os
from pathlib import Path

from threads.dburl import parse_database_url

BASE_DIR = Path(__file__).resolve().parents[3]
SECRET_KEY = "layout-test"
USE_TZ = True
TIME_ZONE = "UTC"
CELERY_TIMEZONE = "Europe/Berlin"
DATABASES = {"default": parse_database_url(os.environ["LAYOUT_DATABASE_URL"], BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
BASE_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]

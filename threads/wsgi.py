"""WSGI entry point for Threads."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threads.settings")

application = get_wsgi_application()

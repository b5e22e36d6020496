"""ASGI entry point for Threads."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threads.settings")

application = get_asgi_application()

"""Celery's ``celery.utils`` names that real projects import (``compat.utils.log``)."""

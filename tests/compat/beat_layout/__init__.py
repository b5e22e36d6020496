"""Two minimal Django projects on one database: one with django-celery-beat, one with ours."""

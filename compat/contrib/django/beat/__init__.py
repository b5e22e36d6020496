"""Database schedules on django-celery-beat's tables: models, admin and migrations, without Celery.

Add ``"compat.contrib.django.beat"`` to ``INSTALLED_APPS`` (instead of ``"django_celery_beat"``)
and set ``CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"`` (the
setting you already have; ``"scheduler.database:DatabaseScheduler"`` is our own name for it).
The models keep django-celery-beat's table names, columns and Python API, so an existing
database keeps its rows and they keep firing; the scheduler daemon reads them through
``scheduler.database``.  ``migrations/0001_initial`` says how an existing database is handled.
"""

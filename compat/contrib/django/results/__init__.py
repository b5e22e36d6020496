"""Task results on Django's ORM or cache: ``result_backend = "django-db"`` or ``"django-cache"``.

Add ``"compat.contrib.django.results"`` to ``INSTALLED_APPS`` (instead of ``"django_celery_results"``)
and run ``migrate``. The models keep django-celery-results' tables and columns
(``django_celery_results_taskresult``, ``_groupresult``, ``_chordcounter``), so an existing database keeps
its rows readable, and rows written here read back through django-celery-results' own models and its
``DatabaseBackend``. ``store`` is the database store, ``cache`` the cache store; ``migrations/0001_initial``
says how an existing database is handled. What stays on Redis (revocations, the control channel, dead
letters, metrics) is said in ``store``'s docstring.
"""

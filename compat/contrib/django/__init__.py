"""Django integration (glue only): settings, task autodiscovery, DB-connection hygiene, on_commit helpers
and the transactional outbox, ``rundramatiq`` and ``deadletters``. The operations dashboard is its own
app, ``ops``, beside compat.

Add ``"compat.contrib.django"`` to ``INSTALLED_APPS`` (and run ``migrate``: the outbox has a table) and
create the app as Celery's guide says::

    # proj/celery.py
    from compat import Celery
    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()

Tasks then have Celery 5.4's ``delay_on_commit``/``apply_async_on_commit`` (``DjangoTask``), sent
through the transactional outbox (``compat.contrib.django.outbox``).
"""

from .transaction import apply_async_on_commit, delay_on_commit

default_app_config = "compat.contrib.django.apps.CompatConfig"

__all__ = ["apply_async_on_commit", "delay_on_commit"]

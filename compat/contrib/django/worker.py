"""The module ``rundramatiq`` hands to the ``dramatiq`` CLI: sets Django up and exposes the broker.

Every worker process imports it: Django is configured, tasks are discovered and the DB-connection
middleware is added before the worker starts consuming.
"""

import django

django.setup()

from compat.app import get_current_app  # noqa: E402 - only after django.setup()

from .middleware import DbConnections  # noqa: E402

app = get_current_app()
app.discover_now()
broker = app.broker
if not any(isinstance(m, DbConnections) for m in broker.middleware):
    broker.add_middleware(DbConnections())

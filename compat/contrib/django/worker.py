"""The module ``rundramatiq`` hands to the ``dramatiq`` CLI: sets Django up and exposes the broker.

Every worker process imports it: Django is configured, tasks are discovered, and three middleware are
added before the worker starts consuming: DB-connection hygiene and the outbox's duplicate check
first (both must run before any other hook touches the database or the task state), and the outbox
relay thread.
"""

import django

django.setup()

from compat.app import get_current_app  # noqa: E402 - only after django.setup()

from .middleware import DbConnections, OutboxDedupe  # noqa: E402
from .relay import RelayInWorker  # noqa: E402

app = get_current_app()
app.discover_now()
broker = app.broker


def _install(broker) -> None:
    """DbConnections then OutboxDedupe in front (before-hooks run in list order), the relay at the end."""
    present = {type(m) for m in broker.middleware}
    if OutboxDedupe not in present:
        first = type(broker.middleware[0]) if broker.middleware else None
        broker.add_middleware(OutboxDedupe(), before=first)
    if DbConnections not in present:
        broker.add_middleware(DbConnections(), before=OutboxDedupe)
    if RelayInWorker not in present:
        broker.add_middleware(RelayInWorker())


_install(broker)

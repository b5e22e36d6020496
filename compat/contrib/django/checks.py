"""System checks (``manage.py check``, and every command that runs them, ``rundramatiq`` and ``migrate``
among them): an app the workers would refuse is reported as an Error before any of them starts.

``compat_django.E001``: an ``amqp://`` broker, a result backend that is not Redis and no ``stores_url``,
the refusal ``compat.brokers.rabbitmq`` raises when the broker is built, with the same message and fix.
``compat_django.E002``: a ``stores_url`` that is not a Redis URL.

The broker is built when the first task is declared, which in a Django project is at start-up (task
autodiscovery, or a view importing its tasks); a refused broker would end every command with a traceback
before the checks run. So ``hold_refusal`` declares the tasks on a ``RefusedBroker`` instead: Django starts
far enough for the check to report, and any send, consume or worker start raises the refusal itself.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

from compat.brokers import broker_scheme, is_rabbitmq
from compat.brokers.stub import CompatStubBroker
from compat.exceptions import ImproperlyConfigured


def check_stores(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The facade's stores have a Redis wherever the broker needs one."""
    from compat.app import get_current_app

    found = refusal(get_current_app())
    if found is None:
        return []
    code, error = found
    if code == "E002":
        hint = "Set CELERY_STORES_URL to a redis:// URL."
        return [checks.Error(str(error), hint=hint, id="compat_django.E002")]
    message, fix = _split_fix(str(error))
    return [checks.Error(message, hint=fix, id=f"compat_django.{code}")]


def refusal(app: Any) -> tuple[str, ImproperlyConfigured] | None:
    """What the facade would refuse about the stores of ``app``, if anything: the check's id and the error."""
    from compat.stores import redis_for

    try:
        stores = redis_for(app)
    except ImproperlyConfigured as exc:
        return "E002", exc
    if stores is not None or not is_rabbitmq(app.conf.broker_url) or app.conf.stores_url is False:
        return None
    from compat.brokers.rabbitmq import refuse_without_stores

    try:
        refuse_without_stores(app, f"{broker_scheme(app.conf.broker_url)}://")
    except ImproperlyConfigured as exc:
        return "E001", exc
    return None


def hold_refusal(app: Any) -> None:
    """Before tasks are declared: when building the broker would be refused, declare them on a
    ``RefusedBroker`` holding that refusal (it needs the app's settings, so it runs in ``ready()``)."""
    found = refusal(app)
    if found is None or app._broker is not None:
        return
    if found[0] == "E002" and not is_rabbitmq(app.conf.broker_url):
        return  # only an amqp:// broker asks for the stores when it is built
    from compat.middleware import facade_middleware

    app._broker = RefusedBroker(found[1], middleware=facade_middleware(app))


class RefusedBroker(CompatStubBroker):
    """Stands in for a broker the facade refused: tasks can be declared on it, nothing can use it."""

    def __init__(self, error: ImproperlyConfigured, middleware: list) -> None:
        self.error: ImproperlyConfigured | None = None  # the facade's middleware is added first
        super().__init__(middleware=middleware)
        self.error = error

    def refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error  # type: ignore[misc]

    enqueue = enqueue_many = consume = purge = inspector = refuse

    def add_middleware(self, middleware: Any, **kwargs: Any) -> None:
        if self.error is not None:  # the worker module adds its own: a worker does not start
            raise self.error
        super().add_middleware(middleware, **kwargs)

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        if signal == "worker_boot":
            raise self.error
        super().emit_before(signal, *args, **kwargs)


def _split_fix(text: str) -> tuple[str, str | None]:
    """The refusal's problem and its fix (from "Set ..." on), as Django prints a message and its hint."""
    problem, found, fix = text.partition(" Set ")
    return (problem, f"Set {fix}") if found else (text, None)

"""``app.conf``: Celery's setting names and defaults, read live from the configured source.

Lookup order for a setting ``x_y``: values set on the app (``conf.x_y = ...``, ``conf.update()``), then the
config object given to ``config_from_object`` (``<NAMESPACE>_X_Y``, the plain key, Celery's old spelling),
then the default. The config object is read on every access, so a test that changes Django settings (or
flips ``task_eager_propagates``) sees the effect at once.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

#: The broker when ``broker_url`` is not set (a local Redis; Celery's default is a local RabbitMQ).
DEFAULT_BROKER_URL = "redis://localhost:6379/0"

DEFAULTS: dict[str, Any] = {
    "broker_url": None,
    "result_backend": None,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ("json",),
    "result_accept_content": None,
    "timezone": None,
    "enable_utc": True,
    "task_routes": None,
    "task_queues": None,
    "task_default_queue": "celery",
    "task_create_missing_queues": True,
    "task_always_eager": False,
    "task_eager_propagates": False,
    "task_store_eager_result": False,
    "task_acks_late": False,
    "task_ignore_result": False,
    "task_track_started": False,
    "task_time_limit": None,
    "task_soft_time_limit": None,
    "task_default_rate_limit": None,
    "task_default_priority": None,
    "task_annotations": None,
    "task_publish_retry": True,
    "task_inherit_parent_priority": False,
    "task_remote_tracebacks": False,
    "task_allow_error_cb_on_chord_header": False,
    "result_expires": timedelta(days=1),
    "result_extended": False,
    "beat_schedule": {},
    "worker_prefetch_multiplier": 4,
    "broker_connection_timeout": 4.0,
    "broker_connection_retry": True,
    "broker_connection_retry_on_startup": None,
    "broker_connection_max_retries": 100,
    "broker_pool_limit": 10,
    "broker_pool_acquire_timeout": None,
    "imports": (),
    # RabbitMQ (amqp://) brokers: Celery's settings and defaults.
    "broker_use_ssl": False,
    "broker_heartbeat": 120,
    "broker_failover_strategy": None,
    "task_queue_max_priority": None,
    "task_default_queue_type": "classic",
    "include": (),
    # Facade-only settings (no Celery equivalent); documented in docs/compat.md.
    "broker_namespace": "dramatiq",
    "result_namespace": "compat",
    "priority_steps": (0, 3, 6, 9),
    "worker_idle_wait": 2.0,
    "broker_heartbeat_timeout": 10,
    "broker_maintenance_interval": 2,
    "task_message_max_bytes": 4 * 1024 * 1024,
    "worker_max_redeliveries": 3,
    "dead_letter_retention": 7 * 86400,
    "broker_management_url": None,
    "stores_url": None,
    "alert_webhook_url": None,
    "alert_mailer": None,
    "alert_digest_seconds": 60,
    # Ops dashboard and metrics (compat.metrics, the ops app); see docs/ops-dashboard.md.
    "worker_metrics": True,
    "worker_metrics_interval": 1.0,
    "worker_metrics_window": 3600,
    "worker_metrics_recent": 10000,
    "metrics_token": None,
    "ops_scheduler_prefix": None,
    "ops_scheduler_entries": None,
}

#: ``beat_scheduler`` values that select the database schedules (django-celery-beat's rows): read by
#: the scheduler daemon and by compat.contrib.django.beat's system check.
DATABASE_SCHEDULERS = frozenset(
    {
        "django",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "django_celery_beat.schedulers.DatabaseScheduler",
        "scheduler.database:DatabaseScheduler",
        "scheduler.database.DatabaseScheduler",
    }
)

#: Celery 3 spellings that Celery still reads, mapped to their new names.
OLD_NAMES: dict[str, tuple[str, ...]] = {
    "broker_url": ("BROKER_URL",),
    "result_backend": ("CELERY_RESULT_BACKEND",),
    "task_always_eager": ("CELERY_ALWAYS_EAGER",),
    "task_eager_propagates": ("CELERY_EAGER_PROPAGATES_EXCEPTIONS", "CELERY_EAGER_PROPAGATES"),
    "task_default_queue": ("CELERY_DEFAULT_QUEUE",),
    "task_routes": ("CELERY_ROUTES",),
    "task_ignore_result": ("CELERY_IGNORE_RESULT",),
    "task_track_started": ("CELERY_TRACK_STARTED",),
    "task_acks_late": ("CELERY_ACKS_LATE",),
    "task_time_limit": ("CELERYD_TASK_TIME_LIMIT",),
    "task_soft_time_limit": ("CELERYD_TASK_SOFT_TIME_LIMIT",),
    "task_serializer": ("CELERY_TASK_SERIALIZER",),
    "result_serializer": ("CELERY_RESULT_SERIALIZER",),
    "accept_content": ("CELERY_ACCEPT_CONTENT",),
    "timezone": ("CELERY_TIMEZONE",),
    "enable_utc": ("CELERY_ENABLE_UTC",),
    "result_expires": ("CELERY_TASK_RESULT_EXPIRES",),
    "beat_schedule": ("CELERYBEAT_SCHEDULE",),
}

#: Facade settings that ``broker_transport_options`` keys give when the facade setting is not set:
#: Celery's Redis ``visibility_timeout`` (seconds until a message a worker held comes back) is the time
#: after which a silent worker's messages are recovered.
TRANSPORT_OPTIONS: dict[str, str] = {
    "broker_heartbeat_timeout": "visibility_timeout",
    "priority_steps": "priority_steps",
}

_MISSING = object()


def load_object(path: str) -> Any:
    """Import ``'pkg.module:attr'`` or ``'pkg.module.attr'`` (or a module path)."""
    if ":" in path:
        module_name, _, attr = path.partition(":")
        return getattr(importlib.import_module(module_name), attr)
    try:
        return importlib.import_module(path)
    except ImportError:
        module_name, _, attr = path.rpartition(".")
        if not module_name:
            raise
        return getattr(importlib.import_module(module_name), attr)


class Settings(Mapping):
    """The live view of an app's configuration."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_changes", dict(initial or {}))
        object.__setattr__(self, "_source", None)
        object.__setattr__(self, "_source_path", None)
        object.__setattr__(self, "_namespace", None)
        object.__setattr__(self, "_names_checked", False)

    # -- sources -----------------------------------------------------------------------------------
    def set_source(self, obj: Any, namespace: str | None = None) -> None:
        """Use ``obj`` (an object, module, mapping or import path) as the config source."""
        if isinstance(obj, str):
            object.__setattr__(self, "_source_path", obj)
            object.__setattr__(self, "_source", None)
        else:
            object.__setattr__(self, "_source", obj)
        object.__setattr__(self, "_namespace", namespace.rstrip("_") + "_" if namespace else None)
        object.__setattr__(self, "_names_checked", False)

    def _get_source(self) -> Any:
        if self._source is None and self._source_path is not None:
            object.__setattr__(self, "_source", load_object(self._source_path))
        source = self._source
        if source is not None and not self._names_checked and self._namespace is None:
            given = set(source_keys(source)) | (set(self._changes) - _SET_BY_ARGUMENTS)
            check_naming(given)  # raises on every read until the source is fixed, as Celery does
            object.__setattr__(self, "_names_checked", True)
        return source

    def _from_source(self, key: str) -> Any:
        source = self._get_source()
        if source is None:
            return _MISSING
        candidates = []
        if self._namespace:
            candidates.append(self._namespace + key.upper())
        candidates.append(key)
        candidates.extend(OLD_NAMES.get(key, ()))
        for name in candidates:
            value = _lookup(source, name)
            if value is not _MISSING:
                return value
        if key == "timezone":
            return _lookup(source, "TIME_ZONE")
        return _MISSING

    # -- access ------------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        value = self._find(key)
        return default if value is _MISSING else value

    def _find(self, key: str) -> Any:
        if key in ("broker_url", "result_backend"):
            env = os.environ.get("CELERY_BROKER_URL" if key == "broker_url" else "CELERY_RESULT_BACKEND")
            if env:
                return env
        if key in self._changes:
            return self._changes[key]
        value = self._from_source(key)
        if value is not _MISSING:
            return value
        if key in TRANSPORT_OPTIONS:  # Celery's spelling of a facade setting
            options = self._find("broker_transport_options")
            if isinstance(options, Mapping) and TRANSPORT_OPTIONS[key] in options:
                return options[TRANSPORT_OPTIONS[key]]
        return DEFAULTS.get(key, _MISSING)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        value = self._find(key)
        if value is _MISSING:
            raise AttributeError(key)
        return value

    def __setattr__(self, key: str, value: Any) -> None:
        self._changes[key] = value

    def __getitem__(self, key: str) -> Any:
        value = self._find(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._changes[key] = value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not _MISSING

    def update(self, other: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Set several settings at once (they win over the config source)."""
        self._changes.update(other or {}, **kwargs)

    def setdefault(self, key: str, value: Any) -> Any:
        if self._find(key) is _MISSING:
            self._changes[key] = value
        return self[key]

    def __iter__(self) -> Iterator[str]:
        return iter(set(DEFAULTS) | set(self._changes))

    def __len__(self) -> int:
        return len(set(DEFAULTS) | set(self._changes))

    def __repr__(self) -> str:
        return f"<Settings source={self._source_path or self._source!r} namespace={self._namespace!r}>"


#: Settings ``Celery(broker=, backend=, include=)`` sets: Celery leaves them out of the naming check.
_SET_BY_ARGUMENTS = frozenset({"broker_url", "result_backend", "include"})


def source_keys(source: Any) -> list[str]:
    """The setting-like names a config source holds (a mapping's keys, an object's public attributes)."""
    if isinstance(source, Mapping):
        return [key for key in source if isinstance(key, str)]
    return [key for key in dir(source) if not key.startswith("_")]


def check_naming(given: set[str]) -> None:
    """Raise ``ImproperlyConfigured`` when old (``CELERY_*``) and new setting names are mixed.

    As Celery's ``detect_settings``: the style most of the names use wins (new names on a tie), and each
    name of the other style is reported with its spelling in the winning one, unless that spelling is
    given too. A namespace (``config_from_object(..., namespace='CELERY')``) is always the new style.
    """
    from .check.celery_names import OLD_NAMES, SETTINGS
    from .exceptions import ImproperlyConfigured

    new = {key for key in given if key in SETTINGS}
    old = {key for key in given if key in OLD_NAMES}
    if not new or not old:
        return
    if len(old) > len(new):
        to_old = {value: key for key, value in OLD_NAMES.items()}
        renames = {key: to_old[key] for key in new if key in to_old}
        style = "old (Celery 3) names"
    else:
        renames = {key: OLD_NAMES[key] for key in old}
        style = "new (lowercase) names"
    renames = {key: value for key, value in renames.items() if value not in given}
    if renames:
        lines = "\n".join(f"  {key} -> {renames[key]}" for key in sorted(renames))
        raise ImproperlyConfigured(
            f"Old and new setting names are mixed; most of them are {style}, so rename these:\n{lines}"
        )


def _lookup(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name, _MISSING)
    return getattr(source, name, _MISSING)

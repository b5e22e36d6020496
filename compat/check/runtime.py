"""Nothing silently ignored, at run time: ``compat check``'s one table (``rules.py``) applied to a live app.

When an app is finalized (its broker is first used: a worker importing its tasks, a web process sending),
every setting the project gave it (``app.conf.update``, ``Celery(**settings)``, the config source with
its namespace and Celery 3 spellings) is looked up in the table: an honoured one passes, one that compat
refuses raises ``ImproperlyConfigured``, and one it does not use logs ONE warning naming the setting and
the docs row, once per process. Task options are checked when a task is declared, ``apply_async`` options
the first time each is passed; each name warns once per process, never per task or per call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..config import TRANSPORT_OPTIONS
from ..exceptions import ImproperlyConfigured
from . import celery_names, rules
from .settings import known, url_family

logger = logging.getLogger("compat.settings")

_JSON = {"json", "application/json"}
_SERIALIZER_SETTINGS = {"task_serializer", "result_serializer", "accept_content", "result_accept_content"}


def setting_kind(name: str, value: Any) -> str:
    """The table's usage kind for setting ``name`` set to ``value``."""
    if name in rules.FACADE_SETTINGS:
        return "setting:facade"
    if name in ("broker_url", "result_backend") and isinstance(value, str) and value:
        return f"setting:{name}={url_family(value)}"
    if name == "task_reject_on_worker_lost" and value is False:
        return "setting:task_reject_on_worker_lost=false"
    if name in _SERIALIZER_SETTINGS and value:
        values = [value] if isinstance(value, str) else list(value)
        return f"setting:{name}={'json' if set(values) <= _JSON else 'other'}"
    return f"setting:{name}"


def given_settings(app: Any) -> dict[str, Any]:
    """The settings the project gave ``app`` (not compat's defaults), by setting name."""
    conf = app.conf
    found: dict[str, Any] = {}
    source = conf._get_source()
    if source is not None:
        for key in _keys(source):
            name = _setting_name(key, conf._namespace)
            if name is not None:
                found[name] = conf.get(name)
    for key in conf._changes:
        name = known(key) or celery_names.OLD_NAMES.get(key)
        if name is not None:
            found[name] = conf.get(name)
    return found


def _keys(source: Any) -> Iterator[str]:
    if isinstance(source, Mapping):
        yield from (key for key in source if isinstance(key, str))
    else:
        yield from (key for key in dir(source) if not key.startswith("_"))


def _setting_name(key: str, namespace: str | None) -> str | None:
    if namespace:
        if key.startswith(namespace):
            return known(key[len(namespace) :].lower())
        return celery_names.OLD_NAMES.get(key) if key.isupper() else None
    if key.isupper():
        return celery_names.OLD_NAMES.get(key)
    return known(key)


def check_settings(app: Any) -> None:
    """Raise for a setting compat refuses; warn once per process for each one it does not use."""
    for name, value in sorted(given_settings(app).items()):
        kind = setting_kind(name, value)
        what = rules.runtime(kind)
        if what == "error":
            raise ImproperlyConfigured(f"setting {name}={value!r}: {_explain(kind)}")
        if what == "warn":
            _warn_once(app, kind, f"setting {name}")
        if kind == "setting:result_backend=django":
            _ = app.backend  # its store refuses a missing app now, not on the worker's first write
        if name == "broker_transport_options" and isinstance(value, Mapping):
            for key in sorted(set(value) - set(TRANSPORT_OPTIONS.values())):
                kind = f"setting:broker_transport_options.{key}"
                kind = kind if rules.explicit(kind) else "setting:*"
                if rules.runtime(kind) == "warn":
                    _warn_once(app, kind, f"broker_transport_options key {key!r}", key=f"transport:{key}")


def check_options(app: Any, category: str, options: Iterable[str], values: Mapping[str, Any]) -> None:
    """Task options (``task-option``) or ``apply_async`` options (``call-option``): raise or warn once."""
    for name in options:
        kind = f"{category}:{name}"
        if name == "serializer":
            kind += "=json" if values.get(name) in _JSON or values.get(name) is None else "=other"
        what = rules.runtime(kind)
        label = "task option" if category == "task-option" else "apply_async option"
        if what == "error":
            raise ImproperlyConfigured(f"{label} {name}={values.get(name)!r}: {_explain(kind)}")
        if what == "warn":
            _warn_once(app, kind, f"{label} {name}")


def check_passed(app: Any, **values: Any) -> None:
    """``check_options`` for the ``call-option`` parameters a caller passed (those not None)."""
    check_options(app, "call-option", [name for name, value in values.items() if value is not None], values)


def _explain(kind: str) -> str:
    row = rules.classify(kind)
    return f"{row.why or 'not supported by compat'} (see {row.link}, row {row.label!r})"


def _warn_once(app: Any, kind: str, what: str, key: str | None = None) -> None:
    warned = app.__dict__.setdefault("_warned_kinds", set())
    if (key or kind) in warned:
        return
    warned.add(key or kind)
    logger.warning("compat does not use %s: %s", what, _explain(kind))

"""Celery setting names as a project writes them, and the usage kind of each assignment.

A Django settings module writes ``CELERY_TASK_SERIALIZER`` (the ``CELERY`` namespace), older projects
``CELERYD_CONCURRENCY`` or ``BROKER_URL``; ``app.conf.update()`` and ``Celery(**kwargs)`` use the plain
lower-case names. All of them become one setting name here (names that are neither Celery's nor
compat's, such as a project's own ``CELERY_PASS_MODEL_BY_ID``, are not settings), and a value that
decides the status (a serializer, a broker URL) is looked at when it is a literal.
"""

from __future__ import annotations

import ast

from . import celery_names
from .rules import FACADE_SETTINGS

_SERIALIZER_SETTINGS = {"task_serializer", "result_serializer", "accept_content", "result_accept_content"}
_JSON = {"json", "application/json"}
_OTHER_SERIALIZERS = {"pickle", "yaml", "msgpack", "application/x-python-serialize", "application/x-yaml",
                      "application/x-msgpack"}


def normalize(name: str) -> str | None:
    """The setting a settings-module name sets (``CELERYD_CONCURRENCY`` -> ``worker_concurrency``,
    ``CELERY_TASK_ROUTES`` -> ``task_routes``), or None when it is no Celery or facade setting."""
    if name in celery_names.OLD_NAMES:
        return celery_names.OLD_NAMES[name]
    if name.startswith("CELERY_"):
        return known(name[len("CELERY_") :].lower())
    return None


def known(name: str) -> str | None:
    """``name`` when Celery or compat has a setting of that name (others are a project's own keys)."""
    return name if name in celery_names.SETTINGS or name in FACADE_SETTINGS else None


def setting_kind(name: str, value: ast.expr | None) -> str:
    """The usage kind of setting ``name`` (lower-case) assigned ``value``."""
    if name in FACADE_SETTINGS:
        return "setting:facade"
    literal = _literal(value)
    hints = _strings(value) if literal is None else []  # os.environ.get("X", "pickle"): its default
    if name in ("broker_url", "result_backend"):
        if isinstance(literal, str):
            return f"setting:{name}={url_family(literal)}"
        urls = [text for text in hints if "://" in text or text.startswith("django-")]
        if urls:
            return f"setting:{name}={url_family(urls[0])}"
    if name in _SERIALIZER_SETTINGS:
        values = [literal] if isinstance(literal, str) else list(literal) if _is_seq(literal) else None
        if values is not None:
            return f"setting:{name}={'json' if set(values) <= _JSON else 'other'}"
        if set(hints) & _OTHER_SERIALIZERS:
            return f"setting:{name}=other"
    if name == "task_reject_on_worker_lost" and literal is False:
        return "setting:task_reject_on_worker_lost=false"
    if name == "beat_scheduler" and isinstance(literal, str) and "django_celery_beat" not in literal:
        return "setting:beat_scheduler=other"
    return f"setting:{name}"


def serializer_kind(category: str, value: ast.expr) -> str:
    """``task-option:serializer=json`` / ``=other`` (or the bare kind when not a literal)."""
    literal = _literal(value)
    if isinstance(literal, str):
        return f"{category}:serializer={'json' if literal in _JSON else 'other'}"
    return f"{category}:serializer"


def url_family(url: str) -> str:
    """``redis``, ``amqp``, ``memory``, ``django`` or ``other`` for a broker or result backend URL."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme in ("amqp", "pyamqp", "amqps"):
        return "amqp"
    if scheme in ("redis", "rediss", "unix", "redis+socket", "sentinel"):
        return "redis" if scheme != "sentinel" else "other"
    if scheme in ("memory", "cache+memory"):
        return "memory"
    if scheme in ("django-db", "django-cache"):
        return "django"
    return "other"


def _literal(value: ast.expr | None):
    if value is None:
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _strings(value: ast.expr | None) -> list[str]:
    """The string constants inside a non-literal value, in source order."""
    if value is None:
        return []
    found = [n for n in ast.walk(value) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return [n.value for n in sorted(found, key=lambda n: (n.lineno, n.col_offset))]


def _is_seq(value) -> bool:
    return isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value)

"""The result store protocol: what every store does, the disabled store, and picking one from a URL.

A store keeps one Celery-shaped record per task id (``compat.states`` builds them: ``status``,
``result``, ``traceback``, ``children``, ``date_done`` and, with ``result_extended``,
``name/args/kwargs/worker/retries/queue``). A ready state (SUCCESS, FAILURE, REVOKED) is final: a late or
duplicate write never moves a task backwards. Completion is published so that ``AsyncResult.get()``
wakes at once instead of polling. Every store offers ``set_state``, ``get_meta``, ``get_many``, ``wait``,
``forget``, the group records and chord barrier (``save_group``, ``restore_group``, ``barrier``,
``set_state_joining``, ``claim``; ``claim_delivery`` where a store can keep a chord body to one send: Redis,
memory, django-cache) and revocations (``revoke``, ``revoked_since``, ``follow_revocations``).
``RedisStore`` and ``MemoryStore``, beside this module, implement it; ``django-db`` and ``django-cache``
are ``compat.contrib.django.results``' stores, which wake waiters by polling (``poll_until_ready``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from .. import serialization
from ..config import load_object
from ..exceptions import ImproperlyConfigured, TimeoutError
from ..stores import REDIS_SCHEMES

READY = ("SUCCESS", "FAILURE", "REVOKED")


def encode_meta(meta: dict[str, Any], result_json: str | None = None) -> str:
    """JSON of a state record, with ``result_json`` as its ``result`` when given."""
    if result_json is None:
        return serialization.dumps(meta)
    rest = {key: value for key, value in meta.items() if key != "result"}
    return serialization.dumps(rest)[:-1] + ',"result":' + result_json + "}"


class DisabledStore:
    """No result backend configured: states are not stored, and reading them says so."""

    enabled = False

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "No result backend is configured. Please see the documentation for more information."
        )

    get_meta = get_many = wait = save_group = restore_group = _refuse

    def set_state(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def forget(self, task_id: str) -> None:
        return None

    def revoke(self, task_ids: Iterable[str]) -> None:
        return None

    def revoked_since(self, since: float) -> list[str]:
        return []

    def follow_revocations(self, on_revoke: Callable[[str], None]) -> None:
        return None


#: ``result_backend`` values served by Django (django-celery-results' names), and their stores.
DJANGO_STORES = {
    "django-db": "compat.contrib.django.results.store:DatabaseStore",
    "django-cache": "compat.contrib.django.results.cache:CacheStore",
}

#: The first pause of ``poll_until_ready``; each next one is 1.5 times longer, up to the caller's interval.
FIRST_POLL = 0.05


def poll_until_ready(
    get_many: Callable[[list[str]], list[dict[str, Any] | None]],
    task_ids: list[str],
    timeout: float | None,
    interval: float,
) -> list[dict[str, Any]]:
    """``wait`` for a store that cannot publish completions: read every 50 ms at first, backing off to
    ``interval`` (1 s from ``AsyncResult.get()``), so a short task is seen at once and a long one costs
    one read a second."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = FIRST_POLL
    while True:
        metas = get_many(task_ids)
        if all(meta and meta["status"] in READY for meta in metas):
            return metas  # type: ignore[return-value]
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError("The operation timed out.")
        time.sleep(pause if left is None else min(pause, left))
        pause = min(pause * 1.5, max(interval, FIRST_POLL))


def store_from_url(url: str | None, *, namespace: str, expires: float | None, app: Any = None) -> Any:
    """Pick the store for a ``result_backend`` URL."""
    if not url:
        return DisabledStore()
    if url in DJANGO_STORES:
        return load_object(DJANGO_STORES[url])(app=app, expires=expires)
    if url.startswith(("cache+memory://", "memory://")):
        from .memory import MemoryStore

        return MemoryStore()
    if url.startswith(REDIS_SCHEMES):
        from .redis import RedisStore

        return RedisStore(url, namespace=namespace, expires=expires)
    raise ImproperlyConfigured(
        f"Unsupported result backend {url!r}: use redis://, rediss://, django-db, django-cache or "
        "cache+memory://"
    )

"""The result store protocol: what every store does, the disabled store, and picking one from a URL.

A store keeps one Celery-shaped record per task id (``compat.states`` builds them: ``status``,
``result``, ``traceback``, ``children``, ``date_done`` and, with ``result_extended``,
``name/args/kwargs/worker/retries/queue``). A ready state (SUCCESS, FAILURE, REVOKED) is final: a late or
duplicate write never moves a task backwards. Completion is published so that ``AsyncResult.get()``
wakes at once instead of polling. Every store offers ``set_state``, ``get_meta``, ``get_many``, ``wait``,
``forget``, the group records and chord barrier (``save_group``, ``restore_group``, ``barrier``,
``set_state_joining``, ``claim``) and revocations (``revoke``, ``revoked_since``, ``follow_revocations``).
``RedisStore`` and ``MemoryStore``, beside this module, implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import serialization
from ..exceptions import ImproperlyConfigured

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


def store_from_url(url: str | None, *, namespace: str, expires: float | None) -> Any:
    """Pick the store for a ``result_backend`` URL."""
    if not url:
        return DisabledStore()
    if url.startswith(("cache+memory://", "memory://")):
        from .memory import MemoryStore

        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore(url, namespace=namespace, expires=expires)
    raise ImproperlyConfigured(
        f"Unsupported result backend {url!r}: use redis://, rediss:// or cache+memory://"
    )

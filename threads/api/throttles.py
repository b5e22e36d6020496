"""Throttles of the API (DRF's ``SimpleRateThrottle``), with their state in Redis through Django's cache.

- ``auth`` (``30/min``): ``/api/auth/token`` and ``/api/auth/register`` per client address
  (``REMOTE_ADDR``, or the address ``NUM_PROXIES`` trusted proxies put in ``X-Forwarded-For``);
- ``auth_username`` (``10/min``): the same endpoints per username key (NFKC_Casefold), from any address;
- ``fact_check`` (``5/min``): ``/api/posts/{id}/fact-check`` per user.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``THREADS_THROTTLE_*`` in the environment)
and are read per request, so a settings change applies at once. A throttled request is a 429 with
``Retry-After`` (DRF). The history lives in the default cache, Django's Redis cache on
``THREADS_REDIS_URL``, so every web process shares it. When that Redis cannot be reached the throttle
lets the request through (logged): an outage must not turn logins and registrations into errors.
"""

from __future__ import annotations

import hashlib
import logging

import redis
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from threads.services.usernames import username_key

logger = logging.getLogger(__name__)


class RedisRateThrottle(SimpleRateThrottle):
    """``SimpleRateThrottle`` reading its rate per request, and open while the cache is unreachable."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except (redis.RedisError, OSError) as exc:
            logger.warning("throttle %s not applied: the cache is unreachable (%s)", self.scope, exc)
            return True


class AuthIPThrottle(RedisRateThrottle):
    """Logins and registrations per client address."""

    scope = "auth"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthUsernameThrottle(RedisRateThrottle):
    """Logins and registrations per username, from any address (password guessing spread over many)."""

    scope = "auth_username"

    def get_cache_key(self, request, view) -> str | None:
        data = request.data
        name = data.get("username") if hasattr(data, "get") else None
        if not isinstance(name, str) or not name:
            return None  # the serializer answers the missing name
        digest = hashlib.sha256(username_key(name).encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class FactCheckThrottle(RedisRateThrottle):
    """Fact checks per user: each costs an AI call from a budget every user shares."""

    scope = "fact_check"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}

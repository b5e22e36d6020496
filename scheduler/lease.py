"""A Redis leader lease with fencing: at most one daemon fires at any moment.

``SET key token NX PX ttl`` takes the lease, a compare-and-``PEXPIRE`` script renews it, and a
compare-and-``DEL`` script releases it.  Fencing is local and conservative: the holder treats
the lease as valid only until ``sent + ttl - margin``, where ``sent`` is the monotonic time
*before* the winning request left this process.  Redis cannot have started the TTL earlier than
that, so the holder stops firing at least ``margin`` before any other daemon can acquire the key,
whether its renewals failed, Redis was unreachable or this process was paused.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import redis

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class Lease:
    """One daemon's handle on the leader lease.

    Parameters:
      client: a redis-py client.
      key: the lease key, shared by all daemons of one schedule.
      ttl: lease length in seconds; a dead leader is replaced within about this long.
      margin: seconds before the Redis expiry at which the holder stops trusting the lease
        (default ``ttl / 4``).
    """

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        ttl: float = 15.0,
        margin: float | None = None,
        clock=time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"lease ttl must be positive, got {ttl!r}")
        self.client, self.key, self.ttl = client, key, float(ttl)
        self.margin = self.ttl / 4 if margin is None else float(margin)
        if not 0 <= self.margin < self.ttl:
            raise ValueError(f"lease margin must be in [0, ttl), got {self.margin!r}")
        # host:pid:random, so an operator (or a test) can see who leads with a plain GET.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._valid_until = 0.0
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)

    def is_held(self) -> bool:
        """True while this daemon may fire: it holds the lease and is inside its fenced window."""
        return self._clock() < self._valid_until

    def remaining(self) -> float:
        """Seconds of fenced validity left (0 when not held)."""
        return max(0.0, self._valid_until - self._clock())

    def acquire(self) -> bool:
        """Try to take the lease; True if this daemon now holds it."""
        sent = self._clock()
        if self.client.set(self.key, self.token, nx=True, px=int(self.ttl * 1000)):
            self._valid_until = sent + self.ttl - self.margin
            return True
        return False

    def renew(self) -> bool:
        """Extend the lease if still ours; on False it is lost and firing stops at once."""
        sent = self._clock()
        if self._renew(keys=[self.key], args=[self.token, int(self.ttl * 1000)]):
            self._valid_until = sent + self.ttl - self.margin
            return True
        self._valid_until = 0.0
        return False

    def keep(self) -> bool:
        """Renew if we believe we hold the lease, else try to acquire it; True if held after."""
        if self._valid_until > 0.0:
            if self.renew():
                return True
        return self.acquire()

    def release(self) -> None:
        """Give the lease up (on clean shutdown) so a standby takes over without waiting."""
        self._valid_until = 0.0
        self._release(keys=[self.key], args=[self.token])

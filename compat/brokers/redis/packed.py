"""A Lua script called as one EVALSHA packed here and written straight on a pooled connection.

Every ``delay()`` is one script call, and redis-py's ``Script.__call__`` costs about twice what the call
itself does: its retry wrapper, its observability recorder, its per-argument encoder (13 arguments for
one message) and its command packer, about 136k of the 274k instructions of a call (callgrind, the
difference between 0 and 2,000 calls). The hot publish path packs the command once, from the few types
it sends (bytes, str, int), and uses redis-py only for the connection: the pool, the health check and
the reply parser. Anything out of the ordinary goes back to the ``Script``, so that redis-py's own
handling applies: a connection error (its retry policy: the same re-send a failed call gets from
redis-py), ``NOSCRIPT`` after a server restart or ``SCRIPT FLUSH`` (it loads the script and calls
again), and a client in single-connection mode.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError


class PackedScript:
    """``script(keys=[], args=args, client=client)``, faster, for scripts that take no keys."""

    def __init__(self, script: Script) -> None:
        self.script = script
        sha = script.sha.encode() if isinstance(script.sha, str) else script.sha
        self.head = b"$7\r\nEVALSHA\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(sha), sha)  # after the count

    def __call__(self, client: redis.Redis, args: list) -> Any:
        if getattr(client, "connection", None) is not None:  # single-connection client: no pool to borrow
            return self.script(keys=[], args=args, client=client)
        pool = client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command([self.pack(args)])
            return connection.read_response()
        except (ConnectionError, TimeoutError):
            connection.disconnect()
        except NoScriptError:
            pass
        finally:
            pool.release(connection)
        return self.script(keys=[], args=args, client=client)

    def pack(self, args: list) -> bytes:
        """``EVALSHA <sha> 0 *args`` in RESP: bytes as they are, str as UTF-8, int in decimal."""
        parts = [b"*%d\r\n" % (len(args) + 3), self.head]
        for arg in args:
            if isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, int) and not isinstance(arg, bool):
                data = b"%d" % arg
            else:
                raise TypeError(f"a packed script argument is bytes, str or int, not {type(arg).__name__}")
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

"""A Lua script called as one EVALSHA packed here and written straight on a pooled connection.

Every ``delay()`` is one script call, and redis-py's ``Script.__call__`` costs about twice what the call
itself does: its retry wrapper, its observability recorder, its per-argument encoder (13 arguments for
one message) and its command packer, about 136k of the 274k instructions of a call (callgrind, the
difference between 0 and 2,000 calls). The hot publish path packs the command once, from the few types
it sends (bytes, str, int), on a connection its publishing slot keeps (``brokers/producers.py``: one
slot, one connection, so ``broker_pool_limit`` still bounds them) rather than one borrowed from
redis-py's pool for each call (about 74k instructions more: its observability counters and a
``select`` to check the connection is clean, which it is here: a connection that fails or is
interrupted mid-call is closed). For a script that answers an integer (the enqueue script), on
redis-py's own connection classes, it writes the socket and reads the one-line reply itself; redis-py
still connects (handshake, AUTH, TLS) and runs the health check. Anything out of the ordinary goes back
to the ``Script``, so that redis-py's own handling applies: a connection error (its retry policy: the
same re-send a failed call gets from redis-py) and a client in single-connection mode. ``NOSCRIPT`` (a
fresh or restarted server, ``SCRIPT FLUSH``) loads the script on the same connection and calls again,
so that a publish keeps to its slot's one connection. A script's own error leaves the connection open:
its whole reply was read.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

#: redis-py's own connection classes, whose socket a call may write and read directly (a subclass, such
#: as a client-side caching proxy, may do more per command: it goes through redis-py's methods).
_PLAIN_CONNECTIONS = (redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection)
#: Returned by a fast call that redis-py is to make again.
_REDIS_PY = object()
#: The attribute of a publishing slot that holds its connection.
SLOT_CONNECTION = "redis"
_READ_SIZE = 65536


def close_slots(slots: list[Any]) -> None:
    """Close the connections these publishing slots keep (they reconnect on their next call)."""
    for slot in slots:
        connection = getattr(slot, SLOT_CONNECTION, None)
        if connection is not None:
            connection.disconnect()


class PackedScript:
    """``script(keys=[], args=args, client=client)``, faster, for scripts that take no keys."""

    def __init__(self, script: Script, integer_reply: bool = False) -> None:
        """``integer_reply``: the script always answers an integer (or an error), so that a call on one of
        redis-py's own connection classes may read the reply itself (``_call_direct``)."""
        self.script = script
        self.integer_reply = integer_reply
        sha = script.sha.encode() if isinstance(script.sha, str) else script.sha
        self.head = b"$7\r\nEVALSHA\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(sha), sha)  # after the count

    def __call__(self, client: redis.Redis, args: list, slot: Any = None) -> Any:
        """Call the script with ``args``: on ``slot``'s own connection when a publishing slot is given
        (made on first use from ``client``'s pool settings, kept with the slot), else on one borrowed
        from ``client``'s pool."""
        if slot is not None:
            connection = getattr(slot, SLOT_CONNECTION, None)
            if connection is None:
                pool = client.connection_pool
                connection = pool.connection_class(**pool.connection_kwargs)
                setattr(slot, SLOT_CONNECTION, connection)
            reply = self._call_on(connection, args)
        elif getattr(client, "connection", None) is None:
            pool = client.connection_pool
            connection = pool.get_connection()
            try:
                reply = self._call_on(connection, args)
            finally:
                pool.release(connection)
        else:  # a single-connection client: no pool to borrow from
            reply = _REDIS_PY
        if reply is _REDIS_PY:
            return self.script(keys=[], args=args, client=client)
        return reply

    def _call_on(self, connection: Any, args: list) -> Any:
        command = self.pack(args)
        direct = self.integer_reply and type(connection) in _PLAIN_CONNECTIONS
        try:
            for attempt in range(2):
                try:
                    if direct:
                        return _call_direct(connection, command)
                    connection.send_packed_command([command])
                    return connection.read_response()
                except NoScriptError:  # a fresh or restarted server, SCRIPT FLUSH: load it on this connection
                    if attempt:
                        break
                    connection.send_command("SCRIPT", "LOAD", self.script.script)
                    connection.read_response()
        except (ConnectionError, TimeoutError):
            connection.disconnect()
        except redis.ResponseError:  # the script's error: its whole reply was read, the connection is clean
            raise
        except BaseException:
            connection.disconnect()  # a reply may be left unread (an interrupt, say): never reuse it
            raise
        return _REDIS_PY

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


def _call_direct(connection: Any, command: bytes) -> Any:
    """Send ``command`` on the connection's socket and read its one-line reply (an integer or an error).

    What ``send_packed_command`` and ``read_response`` do for a script that answers an integer, without
    their layers (about 5 us of a ~130 us ``delay()``): connect (handshake included) or run the health
    check when due, write, read one line, and push the next health check back as a reply does.
    """
    if connection._sock is None:
        connection.connect()
    elif connection.health_check_interval:
        connection.check_health()
    sock = connection._sock
    try:
        sock.sendall(command)
        data = sock.recv(_READ_SIZE)
        while not data.endswith(b"\r\n"):
            more = sock.recv(_READ_SIZE)
            if not more:
                raise ConnectionError("Connection closed by server.")
            data += more
    except builtins.TimeoutError:  # the socket's timeout (redis-py's TimeoutError is another class)
        raise TimeoutError("Timeout on the script call") from None
    except OSError as exc:
        raise ConnectionError(f"Error on the script call: {exc}") from None
    if connection.health_check_interval:
        connection.next_health_check = time.monotonic() + connection.health_check_interval
    kind, body = data[:1], data[1:-2]
    if kind == b":":
        return int(body)
    if kind == b"-":
        text = body.decode("utf-8", "replace")
        raise NoScriptError(text) if text.startswith("NOSCRIPT") else redis.ResponseError(text)
    raise redis.ResponseError(f"unexpected reply to a script call: {data[:80]!r}")

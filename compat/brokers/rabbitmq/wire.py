"""A publish written straight to the connection's socket: its three AMQP frames in one ``send``.

pika's ``basic_publish`` builds an object per frame, encodes the message's properties one field at a
time, queues the three frames in its transport and then runs its I/O loop until they are written (a
``select`` and a ``send`` per frame). That is most of what a confirmed publish costs in Python here, more
than the facade above it. The frames of the messages this broker sends always have the same shape
(``Basic.Publish`` to the default exchange, mandatory; ``delivery_mode``, ``priority`` and
``message_id``; a body that fits in one frame), so ``SocketWriter`` packs them with ``struct`` and sends
them with one call.

It writes only when pika could not tell the difference: a plain TCP transport (TLS goes through pika, which
owns the SSL state), the channel open, and nothing in pika's own output buffer (so frames never
interleave). A short write hands the rest to pika's buffer and flushes it, as pika's own publish does.
Anything else returns False and the caller publishes through pika. Heartbeats and confirms are read
when the caller runs the I/O loop (``Pipeline`` does every ``READ_EVERY`` sends).

This reads pika internals (the transport's socket and buffer count). Where a pika release lacks one,
``attach`` gives no writer and pika publishes everything, as before; ``tests/compat/test_rabbitmq_wire.py``
compares the bytes with pika's own marshalling and fails if the installed pika gives no writer.
"""

from __future__ import annotations

import struct
from typing import Any

import pika

try:
    from pika.adapters.utils.io_services_utils import _AsyncPlaintextTransport
except ImportError:  # a pika release that moved it: no writer, pika publishes
    _AsyncPlaintextTransport = None

FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
FRAME_END = b"\xce"
#: ``Basic`` class id and the ``Publish`` method id
BASIC, PUBLISH = 60, 40
FLAG_DELIVERY_MODE = 1 << 12
FLAG_PRIORITY = 1 << 11
FLAG_MESSAGE_ID = 1 << 7

_FRAME_HEAD = struct.Struct(">BHI")  # frame type, channel, payload size
_CONTENT_HEAD = struct.Struct(">HHQH")  # class id, weight, body size, property flags
_PUBLISH_HEAD = struct.Struct(">HHH")  # class id, method id, ticket

#: the message properties ``SocketWriter`` encodes: all that the broker's ``_prepare`` sets (tested)
ENCODED_PROPERTIES = ("delivery_mode", "priority", "message_id")
#: what ``SocketWriter`` reads of pika's transport and connection (pika 1.3-1.4)
_TRANSPORT_NEEDS = ("_sock", "_state", "_STATE_ACTIVE", "_tx_buffered_byte_count", "write")
_CONNECTION_NEEDS = ("_body_max_length", "bytes_sent", "frames_sent")


def _short_string(value: str) -> bytes:
    encoded = value.encode()
    if len(encoded) > 255:
        raise ValueError(f"AMQP short string of {len(encoded)} bytes: {value[:40]!r}...")
    return bytes((len(encoded),)) + encoded


def method_frame(channel: int, routing_key: str, mandatory: bool = True) -> bytes:
    """``Basic.Publish`` to the default exchange, as pika marshals it."""
    payload = (
        _PUBLISH_HEAD.pack(BASIC, PUBLISH, 0)
        + _short_string("")
        + _short_string(routing_key)
        + (b"\x01" if mandatory else b"\x00")
    )
    return _FRAME_HEAD.pack(FRAME_METHOD, channel, len(payload)) + payload + FRAME_END


def content_frames(channel: int, body: bytes, properties: pika.BasicProperties) -> bytes:
    """The content header (the ``ENCODED_PROPERTIES`` of ``properties``) and one body frame."""
    flags = 0
    fields = b""
    if properties.delivery_mode is not None:
        flags |= FLAG_DELIVERY_MODE
        fields += bytes((properties.delivery_mode,))
    if properties.priority is not None:
        flags |= FLAG_PRIORITY
        fields += bytes((properties.priority,))
    if properties.message_id is not None:
        flags |= FLAG_MESSAGE_ID
        fields += _short_string(properties.message_id)
    header = _CONTENT_HEAD.pack(BASIC, 0, len(body), flags) + fields
    return b"".join(
        (
            _FRAME_HEAD.pack(FRAME_HEADER, channel, len(header)),
            header,
            FRAME_END,
            _FRAME_HEAD.pack(FRAME_BODY, channel, len(body)),
            body,
            FRAME_END,
        )
    )


class SocketWriter:
    """Publishes on one channel of a ``BlockingConnection`` by writing to its socket (see the module)."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.connection = channel.connection
        self.impl = channel.connection._impl
        self.number = channel.channel_number
        self._methods: dict[str, bytes] = {}

    @classmethod
    def attach(cls, channel: Any) -> SocketWriter | None:
        """A writer for ``channel``, or None where pika must write: TLS, another transport, or a pika
        release without the internals this reads (then every publish is pika's own, as before)."""
        impl = channel.connection._impl
        transport = getattr(impl, "_transport", None)
        if _AsyncPlaintextTransport is None or type(transport) is not _AsyncPlaintextTransport:
            return None
        needed = (
            all(hasattr(transport, name) for name in _TRANSPORT_NEEDS)
            and all(hasattr(impl, name) for name in _CONNECTION_NEEDS)
            and hasattr(channel.connection, "_flush_output")
        )
        return cls(channel) if needed else None

    def publish(self, routing_key: str, body: bytes, properties: pika.BasicProperties) -> bool:
        """Write the message's frames; False (nothing written) when pika must publish it instead.

        ``properties`` must set nothing but ``ENCODED_PROPERTIES`` (the broker's ``_prepare`` builds them).
        """
        impl = self.impl
        transport = impl._transport
        if (
            transport is None
            or transport._state != transport._STATE_ACTIVE
            or transport._tx_buffered_byte_count
            or not self.channel._impl.is_open
            or not body
            or len(body) > impl._body_max_length
        ):
            return False
        method = self._methods.get(routing_key)
        if method is None:
            method = self._methods[routing_key] = method_frame(self.number, routing_key)
        data = method + content_frames(self.number, body, properties)
        try:
            sent = transport._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return False  # nothing was written; pika's publish meets the same error and reports it
        impl.bytes_sent += len(data)
        impl.frames_sent += 3
        if sent < len(data):  # the socket's buffer is full: pika writes the rest, in order, and waits
            transport.write(data[sent:])
            self.connection._flush_output()
        return True

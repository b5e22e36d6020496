"""JSON that carries what Celery's JSON carries: datetimes, dates, times, Decimals, UUIDs and bytes.

Values travel as ``{"__type__": name, "__value__": text}`` envelopes, the same shape kombu uses, so a
datetime sent with ``delay()`` arrives as a datetime. Anything else JSON cannot hold raises
:class:`~compat.exceptions.EncodeError` at the call site. Pickle is never used.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from datetime import date, datetime, time
from typing import Any

import dramatiq

from .exceptions import DecodeError, EncodeError


def _encode_special(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return {"__type__": "datetime", "__value__": obj.isoformat()}
    if isinstance(obj, date):
        return {"__type__": "date", "__value__": obj.isoformat()}
    if isinstance(obj, time):
        return {"__type__": "time", "__value__": obj.isoformat()}
    decimal = sys.modules.get("decimal")  # not imported: no Decimal exists (a worker saves loading it)
    if decimal is not None and isinstance(obj, decimal.Decimal):
        return {"__type__": "decimal", "__value__": str(obj)}
    if isinstance(obj, uuid.UUID):
        return {"__type__": "uuid", "__value__": {"hex": obj.hex}}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"__type__": "bytes", "__value__": base64.b64encode(bytes(obj)).decode("ascii")}
    if hasattr(obj, "__json__"):
        return obj.__json__()
    if type(obj).__name__ == "__proxy__":  # Django lazy translation strings
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_DECODERS = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "decimal": lambda value: __import__("decimal").Decimal(value),
    "uuid": lambda value: uuid.UUID(**value),
    "bytes": lambda value: base64.b64decode(value),
}


def _decode_special(obj: dict) -> Any:
    kind = obj.get("__type__")
    if kind is None or "__value__" not in obj or len(obj) != 2:
        return obj
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ValueError(f"Unsupported type {kind!r} in JSON envelope")
    return decoder(obj["__value__"])


_encoder = json.JSONEncoder(default=_encode_special, separators=(",", ":"), ensure_ascii=False)
_decoder = json.JSONDecoder(object_hook=_decode_special)


def dumps(obj: Any) -> str:
    """Encode ``obj`` as JSON text, raising :class:`EncodeError` for what JSON cannot carry."""
    try:
        return _encoder.encode(obj)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(str(exc)) from exc


def loads(text: str | bytes) -> Any:
    """Decode JSON text produced by :func:`dumps`."""
    try:
        return _decoder.decode(text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text)
    except (ValueError, TypeError) as exc:
        raise DecodeError(str(exc)) from exc


def roundtrip(obj: Any) -> Any:
    """What a value looks like after one trip through the wire (tuples become lists, and so on)."""
    return loads(dumps(obj))


def describe_encode_error(task_name: str, args: Any, kwargs: Any) -> EncodeError | None:
    """Name the first argument of a call that JSON cannot carry, or None if all of them can."""
    for index, value in enumerate(args or ()):
        try:
            _encoder.encode(value)
        except (TypeError, ValueError, OverflowError) as exc:
            return EncodeError(f"{task_name}: positional argument {index} ({value!r}) cannot be sent: {exc}")
    for key, value in (kwargs or {}).items():
        try:
            _encoder.encode(value)
        except (TypeError, ValueError, OverflowError) as exc:
            return EncodeError(f"{task_name}: keyword argument {key!r} ({value!r}) cannot be sent: {exc}")
    return None


class MessageEncoder(dramatiq.Encoder):
    """Dramatiq message encoder with the envelopes above, so messages carry dates and Decimals."""

    def encode(self, data: dict) -> bytes:
        return _encoder.encode(data).encode("utf-8")

    def decode(self, data: bytes) -> dict:
        return _decoder.decode(data.decode("utf-8"))


def exception_to_meta(exc: BaseException) -> dict[str, Any]:
    """Celery's JSON form of an exception: its type, module and arguments."""
    cls = type(exc)
    args = list(exc.args)
    try:
        _encoder.encode(args)
    except (TypeError, ValueError, OverflowError):
        args = [repr(arg) for arg in args]
    return {"exc_type": cls.__qualname__, "exc_module": cls.__module__, "exc_message": args}


def exception_from_meta(meta: Any) -> BaseException:
    """Rebuild an exception stored by :func:`exception_to_meta` (a generic one if its class is unknown)."""
    import builtins
    import importlib
    import sys

    from .exceptions import SecurityError

    if not isinstance(meta, dict) or "exc_type" not in meta:
        return Exception(meta)
    name, module_name = meta["exc_type"], meta.get("exc_module") or "builtins"
    args = meta.get("exc_message") or []
    if not isinstance(args, (list, tuple)):
        args = [args]
    module = builtins if module_name == "builtins" else sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # the class lives in code this process cannot import
            module = None
    cls: Any = module
    for part in name.split("."):
        cls = getattr(cls, part, None) if cls is not None else None
    if cls is None:
        cls = type(name.rsplit(".", 1)[-1], (Exception,), {"__module__": module_name})
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        raise SecurityError(f"Expected an exception class, got {module_name}.{name} with payload {args!r}")
    try:
        return cls(*args)
    except Exception:
        return Exception(f"{cls!r}({', '.join(map(repr, args))})")

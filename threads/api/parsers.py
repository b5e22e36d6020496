"""Request parsers of the API: DRF's JSON parser, made strict about what a hostile body can do.

DRF's own parser reads the whole stream, lets ``1e999999`` through as ``inf`` and lets a deeply nested
body (``[[[[...``) raise ``RecursionError``, a 500. This one reads at most ``THREADS_MAX_JSON_BYTES``
(413 beyond), refuses ``NaN``/``Infinity`` and numbers that overflow a float (400), and answers a
body nested past Python's recursion limit with a 400.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import APIException, ParseError


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]!r} is out of range")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JSONParser(parsers.JSONParser):
    """DRF's ``JSONParser`` with a size bound, finite numbers only, and deep nesting as a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        limit = settings.THREADS_MAX_JSON_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        try:
            text = raw.decode(encoding)
            return json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from None

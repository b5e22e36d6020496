"""Call-time argument checking: ``add.delay(1)`` raises the same ``TypeError`` Python would."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

_KIND_PREFIX = {
    inspect.Parameter.VAR_POSITIONAL: "*",
    inspect.Parameter.VAR_KEYWORD: "**",
}


def header_of(fn: Callable[..., Any], *, bound: bool = False) -> Callable[..., None]:
    """A do-nothing function with ``fn``'s parameters, name and module, for checking calls as Python does.

    Python's "missing argument" errors name ``__qualname__``; its "argument after * must be an iterable"
    errors name ``__module__.__qualname__``, so both are copied.
    """
    parameters = list(inspect.signature(fn).parameters.values())
    if bound and parameters:
        parameters = parameters[1:]
    defaults: dict[str, Any] = {}
    parts: list[str] = []
    seen_keyword_only = False
    positional_only_done = False
    for index, param in enumerate(parameters):
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not seen_keyword_only:
            parts.append("*")
            seen_keyword_only = True
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            seen_keyword_only = True
        text = _KIND_PREFIX.get(param.kind, "") + param.name
        if param.default is not inspect.Parameter.empty:
            placeholder = f"_default_{index}"
            defaults[placeholder] = param.default
            text += f"={placeholder}"
        parts.append(text)
        is_last_positional_only = param.kind is inspect.Parameter.POSITIONAL_ONLY and (
            index + 1 == len(parameters)
            or parameters[index + 1].kind is not inspect.Parameter.POSITIONAL_ONLY
        )
        if is_last_positional_only and not positional_only_done:
            parts.append("/")
            positional_only_done = True
    namespace: dict[str, Any] = dict(defaults)
    exec(f"def _header({', '.join(parts)}):\n    return None\n", namespace)  # noqa: S102 - names only
    header = namespace["_header"]
    header.__code__ = header.__code__.replace(co_name=fn.__name__, co_qualname=fn.__qualname__)
    header.__name__ = fn.__name__
    header.__module__ = fn.__module__
    header.__qualname__ = fn.__qualname__
    return header

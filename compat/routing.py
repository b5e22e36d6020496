"""``task_routes``: which queue a task name goes to, matched the way Celery matches it.

A router is a dict (exact names first, then glob and regex keys in order), a list of ``(pattern, route)``
pairs, a function ``fn(name, args, kwargs, options, task=None, **kw)``, a dotted path to one of those, or a
list of routers tried in order; the first that answers wins.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any

from .config import load_object

Route = dict[str, Any]


class MapRoute:
    """Routes from a mapping: exact task names win, then patterns in their order."""

    def __init__(self, items: Any) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self.exact: dict[str, Any] = {}
        self.patterns: list[tuple[re.Pattern, Any]] = []
        for key, route in pairs:
            if isinstance(key, re.Pattern):
                self.patterns.append((key, route))
            elif "*" in key:
                self.patterns.append((re.compile(fnmatch.translate(key)), route))
            else:
                self.exact[key] = route

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Route | None:
        if name in self.exact:
            return _as_route(self.exact[name])
        for pattern, route in self.patterns:
            if pattern.match(name):
                return _as_route(route)
        return None


def _as_route(route: Any) -> Route:
    if isinstance(route, str):
        return {"queue": route}
    return dict(route)


def _as_router(spec: Any) -> Callable[..., Route | None]:
    if isinstance(spec, str):
        spec = load_object(spec)
    if isinstance(spec, Mapping):
        return MapRoute(spec)
    if (
        isinstance(spec, (list, tuple))
        and spec
        and all(isinstance(item, (list, tuple)) and len(item) == 2 for item in spec)
    ):
        return MapRoute(spec)
    if callable(spec):
        return spec
    raise TypeError(f"task_routes entry {spec!r} is not a mapping, a list of pairs or a callable")


def build_routers(setting: Any) -> list[Callable[..., Route | None]]:
    """Turn the ``task_routes`` setting into a list of routers."""
    if not setting:
        return []
    if isinstance(setting, (list, tuple)) and not all(
        isinstance(item, (list, tuple)) and len(item) == 2 and not isinstance(item[0], Mapping)
        for item in setting
    ):
        return [_as_router(item) for item in setting]
    return [_as_router(setting)]


def route(
    routers: list[Callable[..., Route | None]],
    name: str,
    args: Any = None,
    kwargs: Any = None,
    options: Mapping[str, Any] | None = None,
    task: Any = None,
) -> Route:
    """The first route a router returns for ``name``, or an empty route."""
    for router in routers:
        try:
            found = router(name, args, kwargs, options or {}, task=task)
        except TypeError:
            found = router(name, args, kwargs, options or {})
        if found:
            return _as_route(found)
    return {}

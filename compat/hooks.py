"""Middleware hook dispatch that calls only the hooks a middleware defines.

Dramatiq's ``Broker.emit_before``/``emit_after`` call every hook of every middleware, most of them the
base class's no-ops: with the facade's fifteen middleware that is about a hundred Python calls per message,
a few percent of a no-op task's cost. The brokers here keep, per hook name, the bound methods that a
middleware actually overrides, and call only those, with Dramatiq's exact error handling.
"""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import Middleware, MiddlewareError


class DefinedHooks:
    """Mixin for ``dramatiq.Broker`` subclasses: ``emit_before``/``emit_after`` skip no-op hooks.

    The cache is keyed by the hook name and the middleware count, so ``add_middleware`` (or removing one
    from ``broker.middleware``) is seen at once; replacing an entry in place, which changes no count, is
    not: clear ``broker._hook_cache`` after doing that.
    """

    middleware: list[Middleware]
    logger: Any

    def _hooks(self, name: str) -> list:
        """The bound ``name`` hooks of the middleware that define one, in middleware order."""
        cache = self.__dict__.get("_hook_cache")
        if cache is None:
            cache = self._hook_cache = {}
        key = (name, len(self.middleware))
        hooks = cache.get(key)
        if hooks is None:
            base = getattr(Middleware, name, None)
            hooks = [
                getattr(m, name)
                for m in self.middleware
                if name in vars(m) or getattr(type(m), name, None) is not base
            ]
            cache[key] = hooks
        return hooks

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        name = "before_" + signal
        for hook in self._hooks(name):
            try:
                hook(self, *args, **kwargs)
            except MiddlewareError:
                raise
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, hook.__self__, exc_info=True)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        name = "after_" + signal
        for hook in reversed(self._hooks(name)):
            try:
                hook(self, *args, **kwargs)
            except Exception:
                self.logger.critical("Unexpected failure in %s of %r.", name, hook.__self__, exc_info=True)

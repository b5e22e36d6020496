"""The Redis broker's Lua scripts, kept as ``.lua`` files beside this module and read once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def lua(*names: str) -> str:
    """The source of ``<name>.lua`` files in this package, joined in order (one script of parts)."""
    folder = resources.files(__package__)
    return "".join(folder.joinpath(f"{name}.lua").read_text(encoding="utf-8") for name in names)

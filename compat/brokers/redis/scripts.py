"""The Redis broker's Lua scripts, kept as ``.lua`` files beside this module and read once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def lua(name: str) -> str:
    """The source of ``<name>.lua`` in this package."""
    return resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")

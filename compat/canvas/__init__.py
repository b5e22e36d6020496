"""The canvas, as ``celery.canvas`` exports it: ``signature``, ``chain``, ``group``, ``chord``.

``base`` (Signature, partial application), ``chains``, ``groups``, ``chords``, ``callbacks`` (link and
link_error, run after a task ends) and ``builtins`` (map, starmap, chunks, the built-in tasks). What
happens in the worker after a task ends (next step, chord barrier, failure) is
``compat.middleware.canvas``'s.
"""

from __future__ import annotations

from .base import Signature, maybe_unroll_group, signature, subtask, without_repeated_module
from .builtins import chunks, xmap, xstarmap
from .chains import _chain, chain, freeze_step
from .chords import chord
from .groups import group

__all__ = [
    "Signature",
    "_chain",
    "chain",
    "chord",
    "chunks",
    "freeze_step",
    "group",
    "maybe_unroll_group",
    "signature",
    "subtask",
    "without_repeated_module",
    "xmap",
    "xstarmap",
]

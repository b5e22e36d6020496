"""Usernames: one normal form for uniqueness, and no name that impersonates another by its look.

- ``display_form``: NFKC, what is stored (Django's own normalisation), so ``ＡＬＩＣＥ`` is ``ALICE``.
- ``username_key``: NFKC, casefolded, NFKC again (Unicode's NFKC_Casefold closure), the form two names
  are compared in: ``ＡＬＩＣＥ``, ``ALICE`` and ``alice`` share one key. ``Profile.username_key`` holds
  it under a unique constraint, so two concurrent registrations cannot both take it.
- ``confusable_reason``: Unicode's confusables data (the ``confusable_homoglyphs`` package): a name
  mixing scripts with a look-alike letter (Cyrillic ``а`` in ``аlice``) is refused, and so is a name in
  one non-Latin script whose every letter looks Latin (Cyrillic ``рор``, read as ``pop``). Names
  wholly in one script otherwise (``Дмитрий``, ``李小龙``, ``josé``) are fine.
"""

from __future__ import annotations

import unicodedata

from confusable_homoglyphs import categories, confusables

NEUTRAL = {"COMMON", "INHERITED"}  # digits, punctuation, combining marks: every script uses them


def display_form(name: str) -> str:
    """The stored form of a username (NFKC)."""
    return unicodedata.normalize("NFKC", name)


def username_key(name: str) -> str:
    """The form usernames are compared in: NFKC_Casefold."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def confusable_reason(name: str) -> str | None:
    """Why ``name`` could pass for another name, or None."""
    name = display_form(name)
    scripts = categories.unique_aliases(name) - NEUTRAL
    if confusables.is_dangerous(name):
        base = "latin" if "LATIN" in scripts else sorted(scripts)[0]
        found = confusables.is_confusable(name, preferred_aliases=[base, "common"])
        return f"It mixes scripts with a look-alike letter{_example(found, base)}; use letters of one script."
    if len(scripts) != 1 or scripts == {"LATIN"}:
        return None
    letters = {char for char in name if categories.alias(char) not in NEUTRAL}
    found = confusables.is_confusable(name, greedy=True, preferred_aliases=["latin", "common"]) or []
    if letters <= {item["character"] for item in found}:
        example = _example(found, "latin")
        return f"Every letter of it looks like a Latin letter{example}, so it reads as another name."
    return None


def _example(found, base: str) -> str:
    """One look-alike, e.g. `` (Cyrillic 'а' looks like Latin Small Letter A 'a')``."""
    if not found:
        return ""
    item = found[0]
    glyphs = [g for g in item["homoglyphs"] if {categories.alias(c) for c in g["c"]} <= {base.upper()}]
    glyph = (glyphs or item["homoglyphs"])[0]
    return f" ({item['alias'].title()} {item['character']!r} looks like {glyph['n'].title()} {glyph['c']!r})"

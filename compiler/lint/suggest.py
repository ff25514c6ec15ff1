"""Small helpers for messages: did-you-mean and naming odd characters."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The closest choice to `word`, or None (case-insensitive).

    Remembered per word and choices: a file that repeats one unknown name (200,000
    lines of one mistyped tag) asks difflib once, not on every line.
    """
    group = choices if isinstance(choices, frozenset) else frozenset(choices)
    return _closest(word.lower(), group, cutoff)


@functools.lru_cache(maxsize=4096)
def _closest(word: str, choices: frozenset[str], cutoff: float) -> str | None:
    import difflib  # only when a name is unknown: keeps the lint path's start fast

    lowered = {c.lower(): c for c in sorted(choices)}
    if word in lowered:
        return lowered[word]
    match = difflib.get_close_matches(word, list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def hint(word: str, choices: Iterable[str], cutoff: float = 0.75) -> str:
    """` (did you mean 'x'?)`, or ''."""
    best = did_you_mean(word, choices, cutoff)
    return f" (did you mean '{best}'?)" if best else ""


def describe(ch: str) -> str:
    """`‘ (U+2018 LEFT SINGLE QUOTATION MARK)`: a character a person can identify."""
    name = unicodedata.name(ch, "")
    return f"{ch} (U+{ord(ch):04X}{' ' + name if name else ''})"

"""Folding text so keywords match regardless of case and accents ("Счёт" = "счет", "Café" = "cafe").

NFKD splits letters from their combining marks, which we drop; casefold handles ß and friends.
Rules and messages go through the same fold, so what the admin writes is what gets matched.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    return strip_accents(text).casefold()


def strip_accents(text: str) -> str:
    """Drop combining marks only; safe on regex patterns, whose syntax has none."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return WORD.findall(fold(text))


def phrase(text: str) -> str:
    """A keyword in canonical form: folded words joined by single spaces."""
    return " ".join(words(text))

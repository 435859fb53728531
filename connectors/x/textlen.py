"""How long X counts a text (twitter-text v3 weighting), to refuse a too-long reply up front.

X counts most Latin, Cyrillic and similar characters as 1 and CJK, emoji and the rest as 2,
against a limit of 280 "weighted" characters; every URL counts as 23 whatever its length. An
emoji sequence joined with zero-width joiners counts once.
"""

from __future__ import annotations

import re

TWEET_LIMIT = 280
DM_LIMIT = 10_000
URL_WEIGHT = 23
# twitter-text v3 ranges weighted 1 (everything else weighs 2).
LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
URL = re.compile(r"https?://\S+", re.I)
ZWJ = "\u200d"
VARIATION = "\ufe0f"


def weighted_length(text: str) -> int:
    total = 0
    position = 0
    for match in URL.finditer(text):
        total += _plain(text[position : match.start()]) + URL_WEIGHT
        position = match.end()
    return total + _plain(text[position:])


def _plain(text: str) -> int:
    total = 0
    joined = False
    for char in text:
        if char in (ZWJ, VARIATION):
            joined = char == ZWJ
            continue
        if joined:  # the part after a zero-width joiner belongs to the emoji before it
            joined = False
            continue
        code = ord(char)
        total += 1 if any(low <= code <= high for low, high in LIGHT_RANGES) else 2
    return total

"""One pass over a text finds every keyword any rule asks for.

All keywords of a field (text or subject) across all rules are folded into one index: single
words in a set probed with each word's prefixes of the lengths in use, phrases checked against
the folded word string. A message is scanned once however many rules there are; each rule then
only intersects small sets. A keyword matches a whole word or the start of one ("refund"
matches "refunds", "счёт" matches "счета"), which is what admins writing keyword lists expect.
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.text import phrase, words


class KeywordIndex:
    def __init__(self, keywords: Iterable[str]) -> None:
        canonical = {phrase(k) for k in keywords} - {""}
        self.singles = frozenset(k for k in canonical if " " not in k)
        self.phrases = tuple(sorted(k for k in canonical if " " in k))
        self.lengths = tuple(sorted({len(k) for k in self.singles}))

    def __bool__(self) -> bool:
        return bool(self.singles or self.phrases)

    def hits(self, text: str) -> frozenset[str]:
        """Every indexed keyword found in `text` (in canonical folded form)."""
        if not self:
            return frozenset()
        found: set[str] = set()
        tokens = words(text)
        singles, lengths = self.singles, self.lengths
        for word in set(tokens):
            size = len(word)
            for length in lengths:
                if length > size:
                    break
                if word[:length] in singles:
                    found.add(word[:length])
        if self.phrases:
            joined = " " + " ".join(tokens)
            found.update(p for p in self.phrases if " " + p in joined)
        return frozenset(found)


def canonical(keywords: Iterable[str]) -> frozenset[str]:
    return frozenset(phrase(k) for k in keywords) - {""}

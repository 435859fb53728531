"""Split long replies for sendMessage, which takes at most 4,096 characters (Bot API).

Cuts at the last paragraph break, else line break, else space inside the limit, so a long answer
arrives as readable pieces rather than words cut in half. The limit counts UTF-16 code units,
as Telegram does, so emoji-heavy text is not rejected.
"""

from __future__ import annotations

MAX_MESSAGE_LENGTH = 4096


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Pieces of `text`, each at most `limit` UTF-16 units, that join back to the same words."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        head = _prefix(rest, limit)
        cut = _best_cut(head)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _best_cut(head: str) -> int:
    for separator in ("\n\n", "\n", " "):
        position = head.rfind(separator)
        if position > len(head) // 2:
            return position + len(separator)
    return len(head)

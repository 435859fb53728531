"""Separate what the customer just wrote from the quoted history and signature below it.

Agents read the new part; the full original is always kept beside it. The approach follows
github/email_reply_parser: history is recognised by its header ("On … wrote:", Outlook's
"-----Original Message-----" or From:/Sent: block) and by `>` quoting, and it is only removed
when nothing the customer wrote comes after it, so interleaved answers stay visible.
"""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"^\s*(On|Le|Am|El|Il|Op|Em|W dniu|Den|På)\s.{0,300}?"
    r"(wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|napisał|skrev)\s*:?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_OUTLOOK_RULE = re.compile(
    r"^\s*(-{3,}\s*Original Message\s*-{3,}|-{3,}\s*Forwarded message\s*-{3,})\s*$", re.I
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(From|De|Von|Van|Da)\s*:\*?\s*\S", re.I)
_HEADER_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Envoyé|Gesendet|Datum|Subject|Cc)\s*:\*?", re.I)
_SIGNATURE = re.compile(r"^\s*(--\s*|__+\s*|—\s*)$")
# Only short footers: "Sent from my desk, is much easier…" is a sentence, not a signature.
_MOBILE = re.compile(
    r"^\s*(Sent (from|with|using) (my|a|an) [\w'’. -]{1,40}|Get Outlook for \w+|Von meinem [\w -]{1,40} gesendet)\s*$",
    re.I,
)
_RULE = re.compile(r"^\s*[-_=*]{5,}\s*$")
_QUOTED = re.compile(r"^\s*>")
_SIGNATURE_MAX_LINES = 12


def new_text(text: str) -> str:
    """The part of a reply the customer wrote now; the whole text when nothing else is left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    if cut is not None:
        lines = lines[:cut]
    lines = _strip_tail(lines)
    result = "\n".join(lines).strip()
    return result or text.strip()


def _history_start(lines: list[str]) -> int | None:
    """Index of an Outlook header or a trailing "On … wrote:" header, if one starts history."""
    for i, line in enumerate(lines):
        if _OUTLOOK_RULE.match(line):
            return i
        if _UNDERSCORES.match(line) and i + 1 < len(lines) and _HEADER_FROM.match(lines[i + 1]):
            return i
        if _HEADER_FROM.match(line) and _header_block_follows(lines, i):
            return i
        for span in (1, 2, 3):
            joined = " ".join(lines[i : i + span])
            if (
                i + span <= len(lines)
                and _WROTE.match(joined)
                and _only_quotes_after(lines, i + span)
            ):
                return i
    return None


def _header_block_follows(lines: list[str], i: int) -> bool:
    following = [line for line in lines[i + 1 : i + 5] if line.strip()]
    return bool(following) and sum(1 for line in following[:3] if _HEADER_NEXT.match(line)) >= 2


def _only_quotes_after(lines: list[str], start: int) -> bool:
    rest = _strip_tail(lines[start:])
    return all(not line.strip() or _QUOTED.match(line) for line in rest)


def _strip_tail(lines: list[str]) -> list[str]:
    """Drop trailing blank lines, quoted lines, a short signature block and mobile footers."""
    lines = list(lines)
    while True:
        before = len(lines)
        while lines and (
            not lines[-1].strip() or _QUOTED.match(lines[-1]) or _RULE.match(lines[-1])
        ):
            lines.pop()
        if lines and _MOBILE.match(lines[-1]):
            lines.pop()
        start = max(0, len(lines) - _SIGNATURE_MAX_LINES)
        for i in range(len(lines) - 1, start - 1, -1):
            if _SIGNATURE.match(lines[i]) and i > 0:
                del lines[i:]
                break
        if len(lines) == before:
            return lines

"""Header values as readable text: RFC 2047 encoded words, raw UTF-8 (RFC 6532), lies.

The stdlib's compat32 parser hands us 8-bit header bytes as surrogate escapes and leaves
encoded words alone; this turns both into text with our forgiving charset decoder, so a
mislabelled or broken header degrades to slightly wrong characters instead of an exception.
"""

from __future__ import annotations

import re
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses

from connectors.email.charsets import decode

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_FOLD = re.compile(r"\r?\n[ \t]+")
_SURROGATE = re.compile("[\udc80-\udcff]")
_ADDR_SPEC = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def raw_value(msg: Message, name: str) -> str | None:
    """The header as parsed, 8-bit bytes still surrogate-escaped.

    compat32's `get` turns such values into `Header` objects whose text has lost the bytes,
    so we read the unmodified field instead.
    """
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return value if isinstance(value, str) else str(value)
    return None


def unescape(raw: str) -> str:
    """Surrogate-escaped 8-bit bytes back to text: UTF-8 (RFC 6532) or the usual legacy guess."""
    if _SURROGATE.search(raw):
        return decode(raw.encode("ascii", "surrogateescape"), None)
    return raw


def text(value: object) -> str:
    """One header value as clean text (never raises)."""
    if value is None:
        return ""
    raw = str(value)
    try:
        raw = unescape(raw)
        raw = _FOLD.sub(" ", raw)
        if _ENCODED_WORD.search(raw):
            raw = _decode_words(raw)
    except Exception:
        raw = raw.encode("utf-8", "replace").decode("utf-8", "replace")
    return _CONTROL.sub("", raw).strip()


def _decode_words(raw: str) -> str:
    # decode_header splits on encoded words; whitespace between two encoded words is dropped
    # (RFC 2047 §6.2), which decode_header already does.
    out: list[str] = []
    for chunk, charset in decode_header(raw):
        if isinstance(chunk, bytes):
            out.append(decode(chunk, charset or "ascii"))
        else:
            out.append(chunk)
    return "".join(out)


def get(msg: Message, name: str) -> str:
    try:
        return text(raw_value(msg, name))
    except Exception:
        return ""


# What agents and rules look at; the raw message (kept whole) has everything else, such as the
# long Received chains that would only bloat every stored row.
SHOWN = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Return-Path",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "Precedence",
    "List-Id",
    "List-Unsubscribe",
    "Content-Type",
    "X-Failed-Recipients",
    "X-Mailer",
    "User-Agent",
    "Importance",
    "X-Priority",
)
_SHOWN = {name.lower() for name in SHOWN}


def selected(msg: Message) -> dict[str, str]:
    """The headers in SHOWN, decoded; repeated ones joined by newlines."""
    out: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.strip()
        if key.lower() not in _SHOWN:
            continue
        decoded = text(value)
        out[key] = f"{out[key]}\n{decoded}" if key in out else decoded
    return out


def address(msg: Message, name: str) -> tuple[str, str]:
    """(display name, lower-cased address) of the first address in a header, or ("", "").

    Addresses are split before encoded words are decoded: a decoded name may contain the
    commas and brackets that separate addresses.
    """
    value = raw_value(msg, name)
    if value is None:
        return "", ""
    raw = unescape(_FOLD.sub(" ", value))
    try:
        pairs = getaddresses([raw])
    except Exception:
        pairs = []
    for display, addr in pairs:
        if _ADDR_SPEC.match(addr.strip()):
            return text(display).strip('"'), addr.strip().lower()
    match = re.search(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+", raw)
    return ("", match.group(0).lower()) if match else ("", "")

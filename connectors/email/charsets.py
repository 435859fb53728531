"""Bytes to text for mail that lies about its charset: never raise, prefer the plausible reading.

Real mail labels windows-1251 text as koi8-r, windows-1252 as iso-8859-1, cp949 as
ks_c_5601-1987, 8-bit UTF-8 as us-ascii, and invents charsets nobody has heard of. We try the
declared charset (through the aliases mail clients actually use), then UTF-8, then guess; for
the single-byte Cyrillic family every byte decodes, so we pick the reading whose letters look
like prose (mostly lower case) instead of trusting the label.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# Labels seen in the wild mapped to the codec that actually reads them (WHATWG encoding spec
# treats these labels the same way: a superset decodes what the label promised and more).
ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "x-mac-cyrillic": "mac-cyrillic",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "ansi_x3.4-1968": "ascii",
}
_CYRILLIC_8BIT = tuple(
    codecs.lookup(n).name
    for n in ("cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "mac_cyrillic")
)


def codec_for(label: str | None) -> str | None:
    """The Python codec name for a charset label, or None when Python has no such codec."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode(data: bytes, label: str | None = None) -> str:
    """Decode body or header bytes; always returns text, replacing only what nothing can read."""
    codec = codec_for(label)
    if codec in ("ascii", None) or codec == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec in _CYRILLIC_8BIT:
        return _best_cyrillic(data, codec)
    if codec and codec not in ("ascii", "utf-8"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec in ("ascii", "utf-8") or label is None:
        mostly = _mostly_utf8(data)
        if mostly is not None:
            return mostly
    if codec == "ascii" or label is None:
        # No label or a 7-bit label on 8-bit data: windows-1252 is by far the usual truth.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    return _guess(data, codec)


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few broken bytes (a name cut mid-character) is still UTF-8."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good >= 4 and bad * 20 <= good else None


def _guess(data: bytes, codec: str | None) -> str:
    """A statistical guess for labels Python does not know; only used as a last resort."""
    best = from_bytes(data[:65536]).best() if len(data) >= 32 else None
    if best is not None:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return data.decode(codec if codec and codec != "ascii" else "cp1252", errors="replace")


def _best_cyrillic(data: bytes, declared: str) -> str:
    """The Cyrillic codec whose reading has the most lower-case letters (prose is mostly lower)."""
    if not any(b >= 0x80 for b in data):
        return data.decode("ascii")
    best_text, best_score = data.decode(declared, errors="replace"), _prose_score(data, declared)
    for codec in _CYRILLIC_8BIT:
        if codec == declared:
            continue
        score = _prose_score(data, codec)
        # The declared label wins ties: only switch when the other reading is clearly better.
        if score > best_score * 1.5 + 5:
            best_text, best_score = data.decode(codec, errors="replace"), score
    return best_text


_LOWER = re.compile("[а-яё]")
_UPPER = re.compile("[А-ЯЁ]")
_JUNK = re.compile("[\ufffd\u2500-\u259f]")


def _prose_score(data: bytes, codec: str) -> int:
    text = data[:8192].decode(codec, errors="replace")  # a sample is plenty to tell
    lower, upper = len(_LOWER.findall(text)), len(_UPPER.findall(text))
    return lower - upper - 3 * len(_JUNK.findall(text))

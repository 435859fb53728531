"""The keys that tie a mail to its conversation: Message-IDs and our reference tag.

RFC 5322 §3.6.4: In-Reply-To names the parent, References the chain. Clients trim or drop
these, so the `[#R-1042]` tag we put in every subject we send is the second way back. The
store maps every key to a conversation; a mail joins the conversation any of its keys knows.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable

_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"[^<>\s,;()\"]+@[^<>\s,;()\"]+")
REFERENCE_TAG = re.compile(r"\[#([A-Za-z][A-Za-z0-9]*-\d+)\]")
MAX_KEYS = 40
MAX_KEY_LENGTH = 900


def message_ids(value: str | None) -> list[str]:
    """Message-IDs in a header value, normalized to `<id>`; tolerant of missing brackets."""
    if not value:
        return []
    found = [f"<{m}>" for m in _ANGLE_ID.findall(value)]
    if not found:
        found = [f"<{m}>" for m in _BARE_ID.findall(value)]
    return [m for m in found if len(m) <= MAX_KEY_LENGTH]


def reference_tag(subject: str) -> str | None:
    """The conversation reference in a subject, e.g. "R-1042" from "Re: Help [#R-1042]"."""
    match = REFERENCE_TAG.search(subject or "")
    return match.group(1).upper() if match else None


def reference_key(reference: str) -> str:
    return f"ref:{reference}"


def thread_keys(
    own_id: str,
    *,
    in_reply_to: str | None = None,
    references: str | None = None,
    subject: str = "",
    extra: Iterable[str] = (),
) -> tuple[str, ...]:
    """Own id first (ingest treats the first key as the message's own), then the chain.

    The parent (In-Reply-To) and the newest References come before older ones, so when a long
    chain is cut to MAX_KEYS the ids most likely to be in the store survive.
    """
    keys: list[str] = [own_id]
    keys += message_ids(in_reply_to)
    keys += list(reversed(message_ids(references)))
    keys += list(extra)
    tag = reference_tag(subject)
    if tag:
        keys.append(reference_key(tag))
    unique = list(dict.fromkeys(k for k in keys if k))
    return tuple(unique[:MAX_KEYS])


def body_offset(raw: bytes) -> int:
    """Where the body starts (after the first empty line, CRLF or bare LF); -1 if nowhere."""
    found = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := raw.find(sep)) >= 0]
    return min(found) if found else -1


def synthetic_message_id(*parts: bytes) -> str:
    """A stable id for mail without Message-ID, so a re-sync finds the same message again."""
    digest = hashlib.sha256(b"\0".join(parts)).hexdigest()[:40]
    return f"<{digest}@synthetic.heard.invalid>"


def new_message_id(domain: str, seed: str | None = None) -> str:
    """Our own Message-ID; with a seed (the outbox idempotency key) retries reuse the same id,
    so a customer's client drops a duplicate if one ever gets through."""
    token = (
        hashlib.sha256(seed.encode()).hexdigest()[:32]
        if seed is not None
        else secrets.token_hex(16)
    )
    return f"<heard.{token}@{domain}>"


def add_tag(subject: str, reference: str) -> str:
    """The subject with our `[#R-1042]` tag, added once."""
    if not reference or reference_tag(subject) == reference.upper():
        return subject
    return f"{subject} [#{reference}]".strip()


_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|antw|fw|fwd|wg|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)


def reply_subject(subject: str, reference: str) -> str:
    """`Re: <original subject> [#ref]` without piling up Re: Re: or a second tag."""
    base = _RE_PREFIX.sub("", subject or "").strip()
    return add_tag(f"Re: {base}".strip(), reference)

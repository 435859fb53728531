"""Which of our mails a bounce is about, so it joins that conversation and flags the send.

MTAs report the original in three ways (RFC 3464 and the non-standard rest): an attached
message/rfc822 or text/rfc822-headers part, the original headers pasted into the text body
(qmail, Exim), or only X-Failed-Recipients with References. We try them in that order.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser

from connectors.email.thread_keys import body_offset, message_ids

_PASTED_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)", re.I | re.M)
_HEADER_TYPES = ("text/rfc822-headers", "message/rfc822-headers")


def original_message_id(msg: Message, raw: bytes, own_id: str) -> str | None:
    """The Message-ID of the mail that bounced, or None when the report does not say."""
    found = _from_parts(msg)
    if found and found != own_id:
        return found
    # Pasted headers, or MIME too broken to find the part: read the body as plain bytes.
    start = body_offset(raw)
    body_text = raw[start : start + 512 * 1024].decode("latin-1") if start >= 0 else ""
    for match in _PASTED_ID.finditer(body_text):
        if match.group(1) != own_id:
            return match.group(1)
    if msg.get("X-Failed-Recipients") is not None:
        chain = (
            message_ids(str(msg.get("In-Reply-To") or ""))
            or message_ids(str(msg.get("References") or ""))[-1:]
        )
        if chain:
            return chain[0]
    return None


def _from_parts(msg: Message) -> str | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                ids = message_ids(str(inner[0].get("Message-ID") or ""))
                if ids:
                    return ids[0]
        elif ctype in _HEADER_TYPES:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers = HeaderParser().parsestr(payload.decode("utf-8", "replace"))
                ids = message_ids(str(headers.get("Message-ID") or ""))
                if ids:
                    return ids[0]
    return None

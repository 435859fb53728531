"""One raw RFC 5322 message in, one InboundMessage out — pure, and it never raises.

compat32 is the stdlib parser that accepts anything; we do the decoding ourselves (headers.py,
charsets.py) so broken mail degrades instead of failing. Mail that yields nothing usable is
returned flagged "unparseable" with its raw bytes, so agents see it and the connector goes on.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.email import autoreply, bounces, headers
from connectors.email.charsets import decode
from connectors.email.html import html_to_text, sanitize
from connectors.email.quoting import new_text
from connectors.email.thread_keys import (
    body_offset,
    message_ids,
    reference_tag,
    synthetic_message_id,
    thread_keys,
)
from inbox.types import AttachmentIn, InboundMessage, Sender, SenderKind

log = logging.getLogger(__name__)

_SURROGATE = re.compile("[\udc80-\udcff]")
UNREADABLE_TEXT = "(This message could not be read. The original is kept for agents.)"


@dataclass(frozen=True, slots=True)
class MailContext:
    """What normalizing needs to know about the mailbox the mail came from."""

    account: str
    own_addresses: frozenset[str] = frozenset()
    max_attachment_size: int = 25 * 1024 * 1024
    allow_remote_images: bool = False


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[AttachmentIn] = field(default_factory=list)


def normalize(raw: bytes, ctx: MailContext, received_at: datetime | None = None) -> InboundMessage:
    """Normalize one mail; any failure becomes a flagged message that keeps the raw bytes."""
    try:
        msg = message_from_bytes(raw, policy=compat32)
        if not _has_headers(msg):
            return unparseable(raw, ctx, received_at, "no header section")
        return _normalize(raw, msg, ctx, received_at)
    except Exception as exc:  # the promise is "never raises"; the reason goes in the flags
        log.warning("unparseable mail in %s: %s", ctx.account, type(exc).__name__)
        return unparseable(raw, ctx, received_at, type(exc).__name__)


def unparseable(
    raw: bytes, ctx: MailContext, received_at: datetime | None, why: str
) -> InboundMessage:
    external_id = synthetic_message_id(raw)
    preview = decode(raw[:100_000], None)
    return InboundMessage(
        channel="email",
        account=ctx.account,
        external_id=external_id,
        sender=Sender(handle="unknown@unparseable.invalid", name="Unreadable mail"),
        text=UNREADABLE_TEXT,
        full_text=preview,
        received_at=received_at or datetime.now(UTC),
        thread_keys=(external_id,),
        raw=raw,
        sender_kind=SenderKind.AUTO_REPLY,
        no_auto_reply_reason=f"unparseable mail ({why})",
        flags=("unparseable", "malformed"),
    )


def _has_headers(msg: Message) -> bool:
    return any(name.strip() for name in msg)


def _normalize(
    raw: bytes, msg: Message, ctx: MailContext, received_at: datetime | None
) -> InboundMessage:
    subject = headers.get(msg, "Subject")
    from_name, from_addr = headers.address(msg, "From")
    if not from_addr:
        from_name, from_addr = headers.address(msg, "Sender")
    if not from_addr:
        from_name, from_addr = headers.address(msg, "Return-Path")
    own_id = _own_id(raw, msg)
    body = _Body()
    _collect(msg, body, ctx)
    html = None
    flags: list[str] = []
    if body.html:
        cleaned = sanitize("\n".join(body.html), allow_remote_images=ctx.allow_remote_images)
        html = cleaned.html
        if cleaned.remote_images_blocked:
            flags.append("remote_images_blocked")
    full = "\n\n".join(t.strip("\n") for t in body.plain if t.strip())
    if not full.strip() and body.html:
        full = html_to_text("\n".join(body.html))
    if any(a.skipped_reason for a in body.attachments):
        flags.append("attachment_skipped")
    if not from_addr:
        flags.append("no_sender")
    verdict = autoreply.classify(msg, from_addr, ctx.own_addresses, subject)
    extras: dict[str, Any] = {}
    extra_keys: list[str] = []
    if verdict.kind is SenderKind.BOUNCE:
        original = bounces.original_message_id(msg, raw, own_id)
        if original:
            extras["bounce_of"] = original
            extra_keys.append(original)
    reply_name, reply_addr = headers.address(msg, "Reply-To")
    in_reply_to = headers.get(msg, "In-Reply-To")
    references = headers.get(msg, "References")
    if verdict.kind is SenderKind.HUMAN and (reply_addr or from_addr):
        chain = [*message_ids(references), own_id][-20:]
        extras["thread"] = {
            "recipient": reply_addr or from_addr,
            "recipient_name": (reply_name if reply_addr else from_name) or from_name,
            "subject": subject,
            "last_message_id": own_id,
            "references": list(dict.fromkeys(chain)),
        }
    return InboundMessage(
        channel="email",
        account=ctx.account,
        external_id=own_id,
        sender=Sender(
            handle=from_addr or "unknown@invalid", name=from_name, email=from_addr or None
        ),
        text=new_text(full) if full else "",
        full_text=full,
        received_at=received_at or _date(msg) or datetime.now(UTC),
        thread_keys=thread_keys(
            own_id,
            in_reply_to=in_reply_to,
            references=references,
            subject=subject,
            extra=extra_keys,
        ),
        subject=subject,
        html=html,
        attachments=tuple(body.attachments),
        raw=raw,
        headers=headers.selected(msg),
        sender_kind=verdict.kind,
        no_auto_reply_reason=verdict.reason,
        flags=tuple(flags),
        reference=reference_tag(subject),
        extras=extras,
    )


def _own_id(raw: bytes, msg: Message) -> str:
    ids = message_ids(headers.get(msg, "Message-ID"))
    if ids:
        return ids[0]
    # Hash what identifies the mail, not the transport headers a second delivery changes.
    start = body_offset(raw)
    body = raw[start:] if start >= 0 else b""
    stable = [headers.get(msg, n).encode() for n in ("From", "To", "Cc", "Date", "Subject")]
    return synthetic_message_id(*stable, body.replace(b"\r\n", b"\n"))


def _date(msg: Message) -> datetime | None:
    value = headers.get(msg, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _leaves(msg: Message, depth: int = 0) -> Iterator[Message]:
    """Leaf parts in order; attached messages (message/rfc822) are leaves, not descended."""
    if depth > 30:  # mail bombs nest multiparts thousands deep
        return
    payload = msg.get_payload()
    if (
        msg.is_multipart()
        and isinstance(payload, list)
        and msg.get_content_maintype() == "multipart"
    ):
        for part in payload:
            if isinstance(part, Message):
                yield from _leaves(part, depth + 1)
    else:
        yield msg


def _collect(msg: Message, body: _Body, ctx: MailContext) -> None:
    for index, part in enumerate(_leaves(msg)):
        ctype = _content_type(part)
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        is_body_text = (
            ctype in ("text/plain", "text/html") and not filename and disposition != "attachment"
        )
        if is_body_text:
            text = decode(_payload(part), _charset(part)).replace("\r\n", "\n")
            (body.plain if ctype == "text/plain" else body.html).append(text)
        else:
            body.attachments.append(_attachment(part, ctype, disposition, filename, index, ctx))


def _attachment(
    part: Message, ctype: str, disposition: str, filename: str, index: int, ctx: MailContext
) -> AttachmentIn:
    if ctype == "message/rfc822":
        inner = part.get_payload()
        attached = inner[0] if isinstance(inner, list) and inner else None
        data = _as_bytes(attached) if isinstance(attached, Message) else _payload(part)
    else:
        data = _payload(part)
    content_id = headers.get(part, "Content-ID").strip("<> ") or None
    name = filename or _invented_name(ctype, index)
    inline = disposition == "inline" or (content_id is not None and disposition != "attachment")
    if len(data) > ctx.max_attachment_size:
        return AttachmentIn(
            filename=name,
            content_type=ctype,
            size=len(data),
            data=None,
            skipped_reason=f"larger than the {ctx.max_attachment_size} byte limit",
            content_id=content_id,
            inline=inline,
        )
    return AttachmentIn(
        filename=name,
        content_type=ctype,
        size=len(data),
        data=data,
        content_id=content_id,
        inline=inline,
    )


def _as_bytes(msg: Message) -> bytes:
    """An attached message re-serialized; its broken headers must not cost the outer mail."""
    try:
        return msg.as_bytes()
    except Exception:
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _content_type(part: Message) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    return ctype if "/" in ctype and len(ctype) < 150 else "application/octet-stream"


def _clean_params(part: Message) -> Message:
    """The part's parameter headers with 8-bit bytes decoded, so RFC 2231/2047 parsing works."""
    raws = {n: headers.raw_value(part, n) for n in ("Content-Type", "Content-Disposition")}
    if not any(v and _SURROGATE.search(v) for v in raws.values()):
        return part
    clean = Message()
    for name, value in raws.items():
        if value is not None:
            clean[name] = headers.unescape(value)
    return clean


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 encoded parameter
        value = value[2]
    return str(value) if value else None


def _filename(part: Message) -> str:
    try:
        name = _clean_params(part).get_filename() or _clean_params(part).get_param("name") or ""
    except Exception:
        return ""
    if isinstance(name, tuple):
        name = name[2]
    name = headers.text(name)
    # Never let a filename carry a path (RFC 2183 §2.3: the receiver must not trust it).
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]


def _invented_name(ctype: str, index: int) -> str:
    ext = mimetypes.guess_extension(ctype) or ".bin"
    if ctype == "message/rfc822":
        ext = ".eml"
    return f"part-{index + 1}{ext}"


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape")
    return b""

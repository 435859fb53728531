"""Build the mail we send: the headers a customer's client needs to thread it, and loop guards.

From is the support address with the configured display name; the subject carries the
conversation's reference tag; In-Reply-To/References (RFC 5322 §3.6.4) make clients thread the
answer; automatic mail says so with Auto-Submitted (RFC 3834 §5) and asks Exchange not to
answer it (X-Auto-Response-Suppress), so two responders cannot loop.
"""

from __future__ import annotations

import html
import mimetypes
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from connectors.email.thread_keys import message_ids, new_message_id, reply_subject
from inbox.errors import RecipientError
from inbox.types import MessageKind, OutboundMessage

AUTO_SUBMITTED = {
    MessageKind.ACK: "auto-replied",
    MessageKind.UPDATE: "auto-generated",
    MessageKind.SURVEY: "auto-generated",
}


def compose(
    outbound: OutboundMessage, *, address: str, display_name: str = ""
) -> tuple[EmailMessage, str]:
    """The message to send and its Message-ID (stable across retries of the same outbound)."""
    domain = address.rpartition("@")[2] or "heard.invalid"
    message_id = outbound.message_id or new_message_id(domain, seed=outbound.idempotency_key)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(display_name, address)
    msg["To"] = _address(outbound.recipient_name, outbound.recipient)
    subject = outbound.subject or str(outbound.thread.get("subject") or "")
    msg["Subject"] = reply_subject(subject, outbound.reference)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    parent, chain = _threading(outbound)
    if parent:
        msg["In-Reply-To"] = parent
    if chain:
        msg["References"] = " ".join(chain)
    auto = AUTO_SUBMITTED.get(outbound.kind)
    if auto:
        msg["Auto-Submitted"] = auto
        msg["X-Auto-Response-Suppress"] = "All"
    if outbound.reference:
        msg["X-Heard-Reference"] = outbound.reference
    msg.set_content(outbound.text, charset="utf-8")
    msg.add_alternative(
        outbound.html or text_to_html(outbound.text), subtype="html", charset="utf-8"
    )
    for item in outbound.attachments:
        maintype, _, subtype = (
            item.content_type
            or mimetypes.guess_type(item.filename)[0]
            or "application/octet-stream"
        ).partition("/")
        msg.add_attachment(
            item.data, maintype=maintype, subtype=subtype or "octet-stream", filename=item.filename
        )
    return msg, message_id


def _address(name: str, addr: str) -> Address:
    try:
        return Address(display_name=name or "", addr_spec=addr)
    except (ValueError, IndexError, TypeError) as exc:
        raise RecipientError(f"not an email address: {addr!r} ({exc})") from exc


def _threading(outbound: OutboundMessage) -> tuple[str | None, list[str]]:
    """In-Reply-To and References per RFC 5322 §3.6.4: the parent's chain, then the parent.

    The customer's own References (kept in the conversation's thread) come first, so clients
    that thread by the root id find it; the conversation's stored ids fill what they trimmed.
    """
    last = outbound.in_reply_to or str(outbound.thread.get("last_message_id") or "")
    parent_ids = message_ids(last)
    parent = parent_ids[0] if parent_ids else None
    chain = [i for ref in outbound.thread.get("references") or () for i in message_ids(str(ref))]
    chain += [i for ref in outbound.references for i in message_ids(ref)]
    chain = [i for i in dict.fromkeys(chain) if i != parent]
    if parent:
        chain.append(parent)
    return parent, chain[-20:]


def text_to_html(text: str) -> str:
    """A plain HTML twin of the text part: paragraphs and line breaks, everything escaped."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'

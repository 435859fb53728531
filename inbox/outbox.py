"""The transactional outbox: every outgoing message is a row first, then a job.

`queue_outbound` writes the message and its Outbound row in the caller's transaction and asks for
a `deliver` job after commit. `deliver` claims the row with a conditional update (so two workers
never send one row), calls the connector with the row's idempotency key, and records the
channel's own id. Failures back off and stay visible to agents; nothing is dropped silently.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from inbox.models import Contact, Conversation, Event, Message, Outbound, ThreadKey, utcnow
from inbox.types import (
    AUTOMATIC_KINDS,
    AttachmentOut,
    Delivery,
    Direction,
    MessageKind,
    OutboundMessage,
)

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
AUTO_REPLY_WINDOW = timedelta(hours=1)


def queue_outbound(
    session: Session,
    conversation: Conversation,
    *,
    text: str,
    kind: MessageKind,
    author: str | None = None,
    html: str | None = None,
    attachments: Sequence[AttachmentOut] = (),
    subject: str | None = None,
    auto_reply_cap: int = 3,
    now: datetime | None = None,
) -> Outbound | None:
    """Queue a message on the conversation's own channel; None when an automatic one is refused.

    Automatic messages (ack, update, survey) never answer a machine (RFC 3834 §2) and are capped
    per recipient per hour as the last defence against two auto-responders looping.
    """
    now = now or utcnow()
    recipient = recipient_of(session, conversation)
    if kind in AUTOMATIC_KINDS:
        refusal = _automatic_refusal(session, conversation, recipient, auto_reply_cap, now)
        if refusal:
            session.add(
                Event(
                    conversation_id=conversation.id,
                    type="auto_reply_suppressed",
                    actor="system",
                    data={"kind": kind.value, "reason": refusal},
                )
            )
            return None
    key = uuid.uuid4().hex
    message = Message(
        conversation_id=conversation.id,
        account=conversation.account,
        external_id=f"pending:{key}",
        direction=Direction.OUT.value,
        kind=kind.value,
        author=author,
        subject=subject if subject is not None else conversation.subject,
        text=text,
        html=html,
        delivery_status=None if kind is MessageKind.NOTE else "pending",
        extras={"attachments": [a.filename for a in attachments]} if attachments else {},
        created_at=now,
    )
    session.add(message)
    conversation.last_activity_at = now
    if kind is MessageKind.NOTE:
        session.flush()
        return None
    session.flush()
    if attachments:
        from inbox.attachments import AttachmentStore
        from inbox.types import AttachmentIn

        store = AttachmentStore(None)
        for item in attachments:
            row = store.row(
                AttachmentIn(item.filename, item.content_type, len(item.data), item.data)
            )
            row.message_id = message.id
            session.add(row)
    outbound = Outbound(
        idempotency_key=key,
        message_id=message.id,
        conversation_id=conversation.id,
        account=conversation.account,
        kind=kind.value,
        recipient=recipient,
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(outbound)
    session.flush()
    after_commit_enqueue(session, "deliver", outbound.id)
    return outbound


def recipient_of(session: Session, conversation: Conversation) -> str:
    recipient = (conversation.thread or {}).get("recipient")
    if recipient:
        return str(recipient)
    contact = session.get(Contact, conversation.contact_id)
    if contact is not None:
        for identity in contact.identities:
            if identity.channel == conversation.channel:
                return identity.handle
        if contact.email:
            return contact.email
    return ""


def _automatic_refusal(
    session: Session, conversation: Conversation, recipient: str, cap: int, now: datetime
) -> str | None:
    if conversation.no_auto_reply_reason:
        return conversation.no_auto_reply_reason
    if not recipient:
        return "no recipient known"
    sent = session.scalar(
        select(func.count(Outbound.id)).where(
            Outbound.account == conversation.account,
            Outbound.recipient == recipient,
            Outbound.kind.in_([k.value for k in AUTOMATIC_KINDS]),
            Outbound.created_at > now - AUTO_REPLY_WINDOW,
        )
    )
    if sent is not None and sent >= cap:
        return f"rate limit: {sent} automatic messages to this recipient in the last hour"
    return None


def after_commit_enqueue(session: Session, actor: str, *args: object) -> None:
    """Ask for a job once the transaction commits (a rollback asks for nothing)."""
    pending: list[tuple[str, tuple[object, ...]]] = session.info.setdefault("enqueue", [])
    pending.append((actor, args))


def flush_enqueues(session: Session, heard: Heard) -> None:
    for actor, args in session.info.pop("enqueue", []):
        if heard.queue is not None:
            heard.queue.enqueue(actor, *args)


def build_outbound_message(session: Session, outbound: Outbound) -> OutboundMessage:
    message = session.get(Message, outbound.message_id)
    conversation = session.get(Conversation, outbound.conversation_id)
    assert message is not None and conversation is not None
    thread = dict(conversation.thread or {})
    inbound = session.scalars(
        select(Message.external_id)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.id)
    ).all()
    own = session.scalars(
        select(Message.external_id).where(
            Message.conversation_id == conversation.id,
            Message.direction == "out",
            Message.delivery_status == "sent",
        )
    ).all()
    references = [e for e in [*inbound, *own] if e.startswith("<")]
    attachments = tuple(
        AttachmentOut(a.filename, a.content_type, a.data or b"")
        for a in message.attachments
        if a.storage == "db"
    )
    return OutboundMessage(
        account=outbound.account,
        conversation_id=conversation.id,
        reference=conversation.reference or "",
        recipient=outbound.recipient,
        recipient_name=str(thread.get("recipient_name", "")),
        text=message.text,
        html=message.html,
        kind=MessageKind(message.kind),
        idempotency_key=outbound.idempotency_key,
        subject=message.subject or conversation.subject,
        in_reply_to=str(thread.get("last_inbound_id") or (inbound[-1] if inbound else "")) or None,
        references=tuple(references[-20:]),
        thread=thread,
        attachments=attachments,
    )


@dataclass(frozen=True, slots=True)
class DeliverOutcome:
    status: str  # sent | retry | failed | skipped
    retry_in: float | None = None


def claim(session: Session, outbound_id: int, now: datetime) -> bool:
    """Take the row for sending; False when it is sent, failed, not due, or another worker has it."""
    result = session.execute(
        update(Outbound)
        .where(
            Outbound.id == outbound_id,
            Outbound.status == "pending",
            Outbound.next_attempt_at <= now,
        )
        .values(status="sending", attempts=Outbound.attempts + 1, next_attempt_at=now + SEND_LEASE)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, outbound: Outbound, delivery: Delivery, now: datetime) -> None:
    outbound.status = "sent"
    outbound.sent_at = now
    outbound.external_id = delivery.external_id
    outbound.last_error = None
    message = session.get(Message, outbound.message_id)
    assert message is not None
    message.external_id = delivery.external_id
    message.delivery_status = "sent"
    if delivery.extras:
        message.extras = {**(message.extras or {}), **dict(delivery.extras)}
    known = session.scalar(
        select(ThreadKey.id).where(
            ThreadKey.account == outbound.account, ThreadKey.key == delivery.external_id
        )
    )
    if known is None:  # the customer's answer to this message must find the conversation
        session.add(
            ThreadKey(
                account=outbound.account,
                key=delivery.external_id,
                conversation_id=outbound.conversation_id,
            )
        )
    session.add(
        Event(
            conversation_id=outbound.conversation_id,
            type=f"{outbound.kind}_sent",
            actor="system",
            data={"outbound_id": outbound.id, "external_id": delivery.external_id},
        )
    )


def mark_retry(
    session: Session,
    outbound: Outbound,
    error: str,
    delay: float,
    now: datetime,
    *,
    rate_limited: bool,
) -> None:
    outbound.status = "pending"
    outbound.next_attempt_at = now + timedelta(seconds=delay)
    outbound.last_error = error
    if rate_limited:
        outbound.attempts = max(0, outbound.attempts - 1)  # waiting for a window is not a failure
    message = session.get(Message, outbound.message_id)
    if message is not None:
        message.delivery_status = "waiting" if rate_limited else "retrying"


def mark_failed(session: Session, outbound: Outbound, error: str) -> None:
    outbound.status = "failed"
    outbound.last_error = error
    message = session.get(Message, outbound.message_id)
    if message is not None:
        message.delivery_status = "failed"
    session.add(
        Event(
            conversation_id=outbound.conversation_id,
            type="delivery_failed",
            actor="system",
            data={"outbound_id": outbound.id, "error": error[:500]},
        )
    )


def backoff(attempts: int, base: float) -> float:
    return float(min(base * (2 ** max(0, attempts - 1)), MAX_BACKOFF.total_seconds()))


def recover_stale(session: Session, now: datetime) -> int:
    """Rows left `sending` by a crashed worker go back to pending once their lease ends."""
    result = session.execute(
        update(Outbound)
        .where(Outbound.status == "sending", Outbound.next_attempt_at < now)
        .values(status="pending", next_attempt_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

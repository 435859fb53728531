"""Conversations as JSON-ready dicts: one shape for the CLI, the REST API and the web UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.models import Contact, Conversation, Event, Message


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "tags": list(contact.tags or []),
        "identities": [
            {"channel": i.channel, "handle": i.handle, "verified": i.verified}
            for i in contact.identities
        ],
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "kind": message.kind,
        "author": message.author,
        "sender": {"handle": message.sender_handle, "name": message.sender_name},
        "subject": message.subject,
        "text": message.text,
        "full_text": message.full_text,
        "html": message.html,
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "stored": a.storage != "skipped",
                "skipped_reason": a.skipped_reason,
            }
            for a in message.attachments
        ],
        "external_id": message.external_id,
        "sender_kind": message.sender_kind,
        "no_auto_reply_reason": message.no_auto_reply_reason,
        "flags": list(message.flags or []),
        "delivery_status": message.delivery_status,
        "edited_at": iso(message.edited_at),
        "original_text": message.original_text,
        "created_at": iso(message.created_at),
    }


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "actor": event.actor,
        "data": event.data,
        "created_at": iso(event.created_at),
    }


def conversation_json(
    session: Session, conversation: Conversation, *, messages: bool = True, events: bool = False
) -> dict[str, Any]:
    contact = session.get(Contact, conversation.contact_id)
    assert contact is not None
    data: dict[str, Any] = {
        "id": conversation.id,
        "reference": conversation.reference,
        "channel": conversation.channel,
        "account": conversation.account,
        "status": conversation.status,
        "subject": conversation.subject,
        "preview": conversation.preview,
        "is_public": conversation.is_public,
        "contact": contact_json(contact),
        "team": conversation.team,
        "assignee": conversation.assignee,
        "priority": conversation.priority_name,
        "tags": conversation.tags,
        "language": conversation.language,
        "sla_policy": conversation.sla_policy,
        "first_response_due": iso(conversation.first_response_due),
        "first_response_at": iso(conversation.first_response_at),
        "resolution_due": iso(conversation.resolution_due),
        "snoozed_until": iso(conversation.snoozed_until),
        "no_auto_reply_reason": conversation.no_auto_reply_reason,
        "last_activity_at": iso(conversation.last_activity_at),
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
    }
    if messages:
        data["messages"] = [message_json(m) for m in conversation.messages]
    if events:
        rows = session.scalars(
            select(Event).where(Event.conversation_id == conversation.id).order_by(Event.id)
        ).all()
        data["events"] = [event_json(e) for e in rows]
    return data


def conversation_summary(conversation: Conversation) -> str:
    owner = conversation.assignee or conversation.team or "unassigned"
    subject = conversation.subject or conversation.preview or ""
    return (
        f"{conversation.reference:<9} {conversation.status:<8} {conversation.channel:<8} "
        f"{owner:<14} {subject[:60]}"
    )

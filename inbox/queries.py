"""The one place that reads the agents' queue: filters, sorts, keyset pages, and the JSON shapes.

The REST API, the web UI's queue page and `heard conversations` all list through
`list_conversations`, so a filter means the same thing everywhere and the indexes in
`inbox.models` (`ix_conversations_*`) serve every view. Pages are keyset pages (`after` the last
row's sort key) rather than offsets, so page 500 of a million rows costs what page 1 does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, union_all
from sqlalchemy.orm import Session, joinedload, selectinload

from inbox.errors import BadInput
from inbox.models import (
    NO_DUE,
    PRIORITIES,
    STATUSES,
    Attachment,
    Contact,
    Conversation,
    ConversationTag,
    Event,
    Identity,
    Message,
    next_due,
    utcnow,
)

SORTS = ("sla", "priority", "activity", "created")
SLA_STATES = ("due_soon", "breached")
DUE_SOON = timedelta(hours=1)
MAX_LIMIT = 200
UNASSIGNED = "unassigned"
REFERENCE = re.compile(r"[Rr]-\d{1,18}")


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What an agent asked to see. `assignee` is an agent key or "unassigned" ("me" is resolved
    by the caller, who knows who is asking)."""

    status: Sequence[str] = ()
    channel: Sequence[str] = ()
    account: Sequence[str] = ()
    team: str | None = None
    assignee: str | None = None
    tag: str | None = None
    priority: Sequence[str] = ()
    sla: str | None = None
    q: str | None = None
    contact_id: int | None = None
    sort: str = "sla"
    limit: int = 50
    after: str | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise BadInput("; ".join(problems))


def _problems(f: QueueFilter) -> list[str]:
    problems = []
    for name, given, allowed in (
        ("status", f.status, STATUSES),
        ("priority", f.priority, PRIORITIES),
    ):
        unknown = [v for v in given if v not in allowed]
        if unknown:
            problems.append(
                f"{name} must be one of {', '.join(allowed)} (got {', '.join(unknown)})"
            )
    if f.sla is not None and f.sla not in SLA_STATES:
        problems.append(f"sla must be one of {', '.join(SLA_STATES)}")
    if f.sort not in SORTS:
        problems.append(f"sort must be one of {', '.join(SORTS)}")
    if not 1 <= f.limit <= MAX_LIMIT:
        problems.append(f"limit must be between 1 and {MAX_LIMIT}")
    return problems


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Conversation]
    next_cursor: str | None
    now: datetime = field(default_factory=utcnow)


def list_conversations(session: Session, f: QueueFilter, now: datetime | None = None) -> Page:
    now = now or utcnow()
    keys = _sort_keys(f.sort)
    order = [column.desc() if desc else column.asc() for column, desc in keys]
    conditions = [Conversation.merged_into_id.is_(None), *_conditions(f, now)]
    if f.after is not None:
        conditions.append(_after(keys, _decode_cursor(f.after, f.sort)))
    ranges = _index_ranges(f)
    query: Select[Conversation]
    if len(ranges) == 1:
        query = select(Conversation).where(*ranges[0], *conditions)
    else:
        # One index range per (status[, priority]) merged here: with `status IN (...)` or a
        # mixed-direction sort the database would sort every matching row for the first page.
        parts = [
            select(Conversation.id)
            .where(*equalities, *conditions)
            .order_by(*order)
            .limit(f.limit + 1)
            .subquery()
            for equalities in ranges
        ]
        ids = union_all(*(select(part.c.id) for part in parts))
        query = select(Conversation).where(Conversation.id.in_(ids))
    query = query.order_by(*order).limit(f.limit + 1)
    # The customer rides along in the same query; tags need one more (a page has few).
    query = query.options(joinedload(Conversation.contact), selectinload(Conversation.tag_rows))
    rows = list(session.scalars(query))
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cursor = _encode_cursor(f.sort, rows[-1]) if more and rows else None
    return Page(rows, cursor, now)


def _index_ranges(f: QueueFilter) -> list[list[ColumnElement[bool]]]:
    """Equality prefixes that each match one ordered range of the `ix_conversations_*` indexes."""
    statuses = list(dict.fromkeys(f.status)) or list(STATUSES)
    ranges = [[Conversation.status == status] for status in statuses]
    if f.sort == "priority":
        levels = [PRIORITIES.index(p) for p in dict.fromkeys(f.priority)] or range(len(PRIORITIES))
        ranges = [[*r, Conversation.priority == level] for r in ranges for level in levels]
    return ranges


def _conditions(f: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    c = Conversation
    out: list[ColumnElement[bool]] = []
    if f.channel:
        out.append(_one_or_in(c.channel, f.channel))
    if f.account:
        out.append(_one_or_in(c.account, f.account))
    if f.team:
        out.append(c.team == f.team)
    if f.assignee == UNASSIGNED:
        out.append(c.assignee.is_(None))
    elif f.assignee:
        out.append(c.assignee == f.assignee)
    if f.priority:
        out.append(_one_or_in(c.priority, [PRIORITIES.index(p) for p in f.priority]))
    if f.tag:
        out.append(
            exists().where(ConversationTag.conversation_id == c.id, ConversationTag.tag == f.tag)
        )
    if f.contact_id is not None:
        out.append(c.contact_id == f.contact_id)
    if f.sla == "breached":
        out.append(c.sla_due_at <= now)
    elif f.sla == "due_soon":
        out.append(and_(c.sla_due_at > now, c.sla_due_at <= now + DUE_SOON))
    if f.q and f.q.strip():
        out.append(_search(f.q.strip()))
    return out


def _one_or_in(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    values = list(dict.fromkeys(values))
    return column == values[0] if len(values) == 1 else column.in_(values)  # type: ignore[no-any-return]


def _search(text: str) -> ColumnElement[bool]:
    """Subject, preview, reference, the customer's name/email/handles and message text.

    A reference (`R-1042`, what customers quote) is looked up by its unique index alone;
    anything else is a substring scan, fine for the embedded store but seconds at a million
    conversations (a trigram index on PostgreSQL is the next step).
    """
    if len(text) > 200:
        raise BadInput("q must be at most 200 characters")
    if REFERENCE.fullmatch(text):
        return Conversation.reference == text.upper()
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def like(column: Any) -> ColumnElement[bool]:
        return func.lower(column).like(pattern, escape="\\")  # type: ignore[no-any-return]

    c = Conversation
    return or_(
        like(c.subject),
        like(c.preview),
        exists().where(Contact.id == c.contact_id, or_(like(Contact.name), like(Contact.email))),
        exists().where(Identity.contact_id == c.contact_id, like(Identity.handle)),
        exists().where(Message.conversation_id == c.id, like(Message.text)),
    )


# Sorting and keyset paging --------------------------------------------------------------------
def _sort_keys(sort: str) -> list[tuple[Any, bool]]:
    """(column, descending) pairs, always ending in id so the order is total."""
    c = Conversation
    if sort == "priority":
        return [(c.priority, True), (c.sla_due_at, False), (c.id, False)]
    if sort == "activity":
        return [(c.last_activity_at, True), (c.id, True)]
    if sort == "created":
        return [(c.id, True)]
    return [(c.sla_due_at, False), (c.id, False)]


def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the sort order, expanded so mixed directions work."""
    clauses: list[ColumnElement[bool]] = []
    for i, (column, desc) in enumerate(keys):
        equal = [k == v for (k, _), v in zip(keys[:i], values[:i], strict=True)]
        beyond = column < values[i] if desc else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses) if clauses else false()


def _sort_values(sort: str, row: Conversation) -> list[Any]:
    if sort == "priority":
        return [row.priority, row.sla_due_at.isoformat(), row.id]
    if sort == "activity":
        return [row.last_activity_at.isoformat(), row.id]
    if sort == "created":
        return [row.id]
    return [row.sla_due_at.isoformat(), row.id]


def _encode_cursor(sort: str, row: Conversation) -> str:
    raw = json.dumps([sort, *_sort_values(sort, row)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str, sort: str) -> list[Any]:
    problem = BadInput("cursor is not one this listing returned (it must come from next_cursor)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, binascii.Error):
        raise problem from None
    if not isinstance(values, list) or not values or values[0] != sort:
        raise problem
    values = values[1:]
    shape = {
        "priority": (int, str, int),
        "activity": (str, int),
        "created": (int,),
        "sla": (str, int),
    }
    types = shape[sort]
    if len(values) != len(types) or not all(
        type(v) is t for v, t in zip(values, types, strict=True)
    ):
        raise problem
    try:
        return [datetime.fromisoformat(v) if isinstance(v, str) else v for v in values]
    except ValueError:
        raise problem from None


# JSON shapes ----------------------------------------------------------------------------------
def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def sla_state(conversation: Conversation, now: datetime) -> str | None:
    due = next_due(conversation)
    if due is None:
        return None
    if due <= now:
        return "breached"
    return "due_soon" if due <= now + DUE_SOON else "on_track"


def summary_json(conversation: Conversation, now: datetime | None = None) -> dict[str, Any]:
    """A queue row: enough to triage without opening the conversation."""
    now = now or utcnow()
    contact = conversation.contact
    due = next_due(conversation)
    return {
        "id": conversation.id,
        "reference": conversation.reference,
        "channel": conversation.channel,
        "account": conversation.account,
        "status": conversation.status,
        "subject": conversation.subject,
        "preview": conversation.preview,
        "contact": {"id": contact.id, "name": contact.name, "email": contact.email},
        "team": conversation.team,
        "assignee": conversation.assignee,
        "priority": conversation.priority_name,
        "tags": conversation.tags,
        "sla_due": iso(due if due != NO_DUE else None),
        "sla_state": sla_state(conversation, now),
        "first_response_due": iso(conversation.first_response_due),
        "resolution_due": iso(conversation.resolution_due),
        "snoozed_until": iso(conversation.snoozed_until),
        "last_activity_at": iso(conversation.last_activity_at),
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "kind": message.kind,
        "sender_kind": message.sender_kind,
        "author": message.author,
        "sender": {"handle": message.sender_handle, "name": message.sender_name},
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "attachments": [attachment_json(a) for a in message.attachments],
        "external_id": message.external_id,
        "delivery_status": message.delivery_status,
        "flags": list(message.flags or []),
        "full_text": message.full_text,
        "original_text": message.original_text,
        "no_auto_reply_reason": message.no_auto_reply_reason,
        "edited_at": iso(message.edited_at),
        "created_at": iso(message.created_at),
    }


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "inline": attachment.inline,
        "stored": attachment.storage != "skipped",
        "skipped_reason": attachment.skipped_reason,
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
    session: Session, conversation: Conversation, now: datetime | None = None
) -> dict[str, Any]:
    """The whole conversation: customer with every identity, messages, and the event history."""
    data = summary_json(conversation, now)
    contact = conversation.contact
    data["contact"]["tags"] = list(contact.tags or [])
    data["contact"]["identities"] = [
        {"channel": i.channel, "handle": i.handle, "verified": i.verified}
        for i in sorted(contact.identities, key=lambda i: i.id)
    ]
    data.update(
        is_public=conversation.is_public,
        language=conversation.language,
        sla_policy=conversation.sla_policy,
        first_response_at=iso(conversation.first_response_at),
        resolved_at=iso(conversation.resolved_at),
        no_auto_reply_reason=conversation.no_auto_reply_reason,
    )
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.created_at, Message.id)
        .options(selectinload(Message.attachments))
    )
    data["messages"] = [message_json(m) for m in messages]
    events = session.scalars(
        select(Event).where(Event.conversation_id == conversation.id).order_by(Event.id)
    )
    data["events"] = [event_json(e) for e in events]
    data["merged_into_id"] = conversation.merged_into_id
    return data


def get_conversation(session: Session, conversation_id: int) -> Conversation | None:
    return session.get(
        Conversation,
        conversation_id,
        options=[selectinload(Conversation.contact).selectinload(Contact.identities)],
    )


def other_conversations(
    session: Session, conversation: Conversation, limit: int = 20
) -> list[Conversation]:
    """The same customer's other conversations, newest first (the conversation view's sidebar)."""
    query: Select[Conversation] = (
        select(Conversation)
        .where(
            Conversation.contact_id == conversation.contact_id,
            Conversation.id != conversation.id,
            Conversation.merged_into_id.is_(None),
        )
        .order_by(Conversation.id.desc())
        .limit(limit)
        .options(selectinload(Conversation.contact), selectinload(Conversation.tag_rows))
    )
    return list(session.scalars(query))

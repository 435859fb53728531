"""What agents do to conversations, shared by the REST API, the web UI and the CLI.

Each action changes the conversation in the caller's transaction and records an Event, so the
history shows who did what and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inbox.errors import BadInput
from inbox.models import (
    PRIORITIES,
    STATUSES,
    Agent,
    Contact,
    Conversation,
    ConversationTag,
    Event,
    Identity,
    Message,
    Outbound,
    ThreadKey,
    utcnow,
)
from inbox.outbox import queue_outbound
from inbox.types import Direction, MessageKind


def reply(
    session: Session,
    conversation: Conversation,
    text: str,
    author: str | None,
    *,
    html: str | None = None,
    now: datetime | None = None,
) -> Outbound:
    """An agent's answer, sent on the conversation's own channel through the outbox.

    The first agent reply stops the first-response clock (the customer promise, step 2).
    """
    if not text.strip():
        raise BadInput("reply text is empty")
    now = now or utcnow()
    outbound = queue_outbound(
        session,
        conversation,
        text=text,
        kind=MessageKind.MESSAGE,
        author=author,
        html=html,
        now=now,
    )
    assert outbound is not None  # agent messages are never refused
    if conversation.first_response_at is None:
        conversation.first_response_at = now
    session.add(
        Event(
            conversation_id=conversation.id,
            type="replied",
            actor=author or "system",
            data={"outbound_id": outbound.id},
        )
    )
    return outbound


# Triage actions ------------------------------------------------------------------------------
# Each takes the acting agent's key as `actor` and returns what changed, so callers can say so.

NOT_GIVEN: Any = object()
MAX_TAG_LENGTH = 100


def add_note(session: Session, conversation: Conversation, text: str, author: str) -> Message:
    """An internal note: stored in the thread for agents, never sent to the customer."""
    if not text.strip():
        raise BadInput("note text is empty")
    now = utcnow()
    note = Message(
        conversation_id=conversation.id,
        account=conversation.account,
        external_id=f"note:{uuid.uuid4().hex}",
        direction=Direction.OUT.value,
        kind=MessageKind.NOTE.value,
        author=author,
        text=text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    _event(session, conversation, "note_added", author, {"message_id": note.id})
    return note


def assign(
    session: Session,
    conversation: Conversation,
    actor: str,
    *,
    agent: str | None = NOT_GIVEN,
    team: str | None = NOT_GIVEN,
) -> dict[str, Any]:
    """Give the conversation to an agent and/or a team (None takes it away)."""
    if agent is NOT_GIVEN and team is NOT_GIVEN:
        raise BadInput("give an agent or a team (null to unassign)")
    changes: dict[str, Any] = {}
    if agent is not NOT_GIVEN:
        if agent is not None and not _active_agent(session, agent):
            raise BadInput(f"no active agent {agent!r}")
        if agent != conversation.assignee:
            changes["assignee"] = {"from": conversation.assignee, "to": agent}
            conversation.assignee = agent
    if team is not NOT_GIVEN:
        if team is not None and not (0 < len(team.strip()) <= 100):
            raise BadInput("team must be 1-100 characters")
        if team != conversation.team:
            changes["team"] = {"from": conversation.team, "to": team}
            conversation.team = team
    if changes:
        _event(session, conversation, "assigned", actor, changes)
    return changes


def _active_agent(session: Session, key: str) -> bool:
    found = session.scalar(select(Agent.id).where(Agent.key == key, Agent.active.is_(True)))
    return found is not None


def set_status(
    session: Session,
    conversation: Conversation,
    status: str,
    actor: str,
    *,
    snoozed_until: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """open / pending / snoozed (until a future time) / resolved; returns whether it changed."""
    now = now or utcnow()
    if status not in STATUSES:
        raise BadInput(f"status must be one of {', '.join(STATUSES)}")
    if status == "snoozed":
        if snoozed_until is None or snoozed_until.tzinfo is None or snoozed_until <= now:
            raise BadInput("snoozing needs snoozed_until: a future time with a time zone")
    elif snoozed_until is not None:
        raise BadInput("snoozed_until is only for status 'snoozed'")
    before = conversation.status
    if before == status and conversation.snoozed_until == snoozed_until:
        return False
    conversation.status = status
    conversation.snoozed_until = snoozed_until
    conversation.resolved_at = now if status == "resolved" else None
    data: dict[str, Any] = {"from": before, "to": status}
    if snoozed_until is not None:
        data["until"] = snoozed_until.isoformat()
    _event(session, conversation, "status_changed", actor, data)
    return True


def set_priority(session: Session, conversation: Conversation, priority: str, actor: str) -> bool:
    if priority not in PRIORITIES:
        raise BadInput(f"priority must be one of {', '.join(PRIORITIES)}")
    before = conversation.priority_name
    if before == priority:
        return False
    conversation.priority = PRIORITIES.index(priority)
    _event(session, conversation, "priority_changed", actor, {"from": before, "to": priority})
    return True


def change_tags(
    session: Session,
    conversation: Conversation,
    actor: str,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> list[str]:
    """Adds and removes tags; returns the conversation's tags afterwards."""
    add = [_clean_tag(t) for t in add]
    remove = [_clean_tag(t) for t in remove]
    have = {row.tag: row for row in conversation.tag_rows}
    added = [t for t in dict.fromkeys(add) if t not in have and t not in remove]
    removed = [t for t in dict.fromkeys(remove) if t in have]
    for tag in added:
        conversation.tag_rows.append(ConversationTag(conversation_id=conversation.id, tag=tag))
    for tag in removed:
        conversation.tag_rows.remove(have[tag])
    if added or removed:
        session.flush()
        _event(session, conversation, "tags_changed", actor, {"added": added, "removed": removed})
    return sorted(conversation.tags)


def _clean_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > MAX_TAG_LENGTH:
        raise BadInput(f"each tag must be a string of 1-{MAX_TAG_LENGTH} characters")
    return tag.strip()


def merge(session: Session, source: Conversation, target: Conversation, actor: str) -> Conversation:
    """Folds `source` into `target` (two conversations of one customer).

    Messages, thread keys and pending sends move, so the customer's next message on either
    thread lands in `target`; `source` stays as a resolved pointer for old links.
    """
    if source.id == target.id:
        raise BadInput("a conversation cannot be merged into itself")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise BadInput("one of these conversations was already merged")
    if _root_contact(session, source.contact_id) != _root_contact(session, target.contact_id):
        raise BadInput("only conversations of the same customer can be merged")
    for model in (Message, ThreadKey, Outbound):
        session.execute(
            update(model)
            .where(model.conversation_id == source.id)
            .values(conversation_id=target.id)
        )
    change_tags(session, target, actor, add=source.tags)
    target.last_activity_at = max(target.last_activity_at, source.last_activity_at)
    if source.first_response_at is None and target.first_response_at is None:
        dues = [d for d in (source.first_response_due, target.first_response_due) if d]
        target.first_response_due = min(dues) if dues else None
    source.merged_into_id = target.id
    source.status, source.resolved_at = "resolved", utcnow()
    _event(
        session, source, "merged_into", actor, {"into": target.id, "reference": target.reference}
    )
    _event(
        session, target, "merged_from", actor, {"from": source.id, "reference": source.reference}
    )
    session.expire(target, ["messages"])
    return target


def _root_contact(session: Session, contact_id: int) -> int:
    seen: set[int] = set()
    while contact_id not in seen:
        seen.add(contact_id)
        contact = session.get(Contact, contact_id)
        if contact is None or contact.merged_into_id is None:
            break
        contact_id = contact.merged_into_id
    return contact_id


def link_identity(
    session: Session, contact: Contact, channel: str, handle: str, actor: str
) -> Contact:
    """Says `channel:handle` is the same customer as `contact`.

    An identity already owned by another contact brings that whole contact along: its
    identities and conversations move here and it is marked merged, so the customer's history
    across channels is one.
    """
    channel, handle = channel.strip(), handle.strip()
    if not channel or not handle:
        raise BadInput("give both a channel and a handle")
    identity = session.scalar(
        select(Identity).where(Identity.channel == channel, Identity.handle == handle)
    )
    if identity is None:
        session.add(Identity(contact_id=contact.id, channel=channel, handle=handle))
        session.flush()
    elif identity.contact_id != contact.id:
        merge_contacts(session, keep=contact, other=identity.contact, actor=actor)
    session.add(
        Event(
            type="identity_linked",
            actor=actor,
            data={"contact_id": contact.id, "channel": channel, "handle": handle},
        )
    )
    return contact


def merge_contacts(session: Session, *, keep: Contact, other: Contact, actor: str) -> Contact:
    if keep.id == other.id:
        return keep
    session.execute(
        update(Identity).where(Identity.contact_id == other.id).values(contact_id=keep.id)
    )
    session.execute(
        update(Conversation)
        .where(Conversation.contact_id == other.id)
        .values(contact_id=keep.id)
        .execution_options(synchronize_session="fetch")
    )
    other.merged_into_id = keep.id
    if not keep.email and other.email:
        keep.email = other.email
    keep.tags = sorted(set(keep.tags or []) | set(other.tags or []))
    session.add(
        Event(type="contacts_merged", actor=actor, data={"kept": keep.id, "merged": other.id})
    )
    session.flush()
    session.expire(keep, ["identities"])
    return keep


def _event(
    session: Session, conversation: Conversation, kind: str, actor: str, data: dict[str, Any]
) -> None:
    session.add(Event(conversation_id=conversation.id, type=kind, actor=actor, data=data))

"""Routing a conversation after new customer messages: rules, owner, SLA clocks, acknowledgement.

Called by the route actor inside a transaction. The conversation row is locked first, so two
route jobs for one conversation (two quick messages) run one after the other and the
acknowledgement goes out once. A new (or reopened) conversation gets the full treatment; a
follow-up only collects tags and priority from the rules. Every decision is an Event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, defer, selectinload

from inbox.models import PRIORITIES, Contact, Conversation, ConversationTag, Event, Message, utcnow
from inbox.notify import notify_owner
from inbox.outbox import queue_outbound
from inbox.promise import customer_text, set_due_times
from inbox.rulebook import rules_for
from inbox.types import Direction, MessageKind
from routing.assign import route_owner
from rules.facts import Facts
from rules.language import detect_language
from rules.matcher import Actions, Decision
from rules.ruleset import RuleSet

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

EVENTS = cast(Table, Event.__table__)
UNCONFIGURED = "no rules configured"


def route_conversation(
    heard: Heard, session: Session, conversation_id: int, now: datetime | None = None
) -> None:
    now = now or utcnow()
    conversation = session.get(
        Conversation, conversation_id, with_for_update=True, populate_existing=True
    )
    if conversation is None or conversation.merged_into_id is not None:
        return
    message = _latest_inbound(session, conversation.id)
    if message is None:
        return
    route_loaded(heard, session, conversation, message, now)


def lock_for_routing(
    session: Session, conversation_ids: Sequence[int], *, wait: bool = False, tags: bool = True
) -> list[Conversation]:
    """Lock a batch of conversations in one statement, in id order.

    Without `wait`, rows another transaction holds are skipped rather than waited for
    (PostgreSQL `SKIP LOCKED`): a batch that waited for one conversation while holding the
    others could deadlock with an ingest or another batch. The caller routes the skipped ones
    on their own. SQLite serializes writers anyway.
    """
    ids = sorted(set(conversation_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.id.in_(ids))
            .order_by(Conversation.id)
            .with_for_update(skip_locked=not wait)
            .options(*([selectinload(Conversation.tag_rows)] if tags else []))
            .execution_options(populate_existing=True)
        ).all()
    )


def latest_inbound(session: Session, conversation_ids: Sequence[int]) -> dict[int, Message]:
    """The latest inbound message of each conversation, in two statements for the batch."""
    if not conversation_ids:
        return {}
    latest = (
        select(func.max(Message.id))
        .where(
            Message.conversation_id.in_(list(conversation_ids)),
            Message.direction == Direction.IN.value,
        )
        .group_by(Message.conversation_id)
    )
    # Routing reads the text and the sender: never the raw mail, its HTML or its headers.
    heavy = (Message.raw, Message.html, Message.full_text, Message.headers, Message.extras)
    light = [defer(column) for column in heavy]
    rows = session.scalars(select(Message).where(Message.id.in_(latest)).options(*light))
    return {m.conversation_id: m for m in rows}


def route_batch(
    heard: Heard, session: Session, routable: Sequence[tuple[Conversation, Message]], now: datetime
) -> None:
    """Route conversations the caller has locked, each with its latest inbound message.

    Without rules there is nothing to decide per conversation: the batch is marked routed
    with one executemany for its events instead of one INSERT each.
    """
    if not routable:
        return
    ruleset = rules_for(heard, session)
    if ruleset.configured:
        # The batch's contacts in one statement (their tags came with the lock): routing a
        # conversation then asks the store nothing, and flushes nothing, until it picks an owner.
        contact_ids = {conversation.contact_id for conversation, _ in routable}
        # Held here: the session's identity map keeps only weak references.
        contacts = session.scalars(select(Contact).where(Contact.id.in_(contact_ids))).all()
        for conversation, message in routable:
            route_loaded(heard, session, conversation, message, now)
        del contacts
        return
    _route_unconfigured(heard, session, routable, now)


def route_loaded(
    heard: Heard, session: Session, conversation: Conversation, message: Message, now: datetime
) -> None:
    """Route one conversation already locked by the caller; `message` is its latest inbound."""
    ruleset = rules_for(heard, session)
    if not ruleset.configured:
        _route_unconfigured(heard, session, [(conversation, message)], now)
        return
    contact = session.get(Contact, conversation.contact_id)
    fresh = conversation.routed_at is None
    reopened = not fresh and _reopened_since_routing(session, conversation)
    history = _history_days(heard, conversation, message, now) if fresh or reopened else None
    if conversation.language is None:
        known = contact.language if contact else None
        # History is never answered: its language is not worth guessing (a reopen guesses).
        conversation.language = known or (None if history else detect_language(message.text))
    facts = _facts(conversation, message, contact, first_message=fresh, now=now)
    decision = ruleset.match(facts)
    _record_rules(session, conversation, decision)
    _apply_tags_and_priority(conversation, decision.actions)
    if not (fresh or reopened):
        return
    if history:
        conversation.routed_at = now
        session.add(Event(**_archive(conversation, message, history, now)))
        return
    _route_new(heard, session, ruleset, conversation, message, decision.actions, now)


def _route_unconfigured(
    heard: Heard,
    session: Session,
    routable: Sequence[tuple[Conversation, Message]],
    now: datetime,
) -> None:
    """No rules sections at all: nobody to assign and no promise to make, so no ack either;
    one executemany for the batch's events instead of one INSERT each."""
    events = []
    for conversation, message in routable:
        if conversation.routed_at is not None:
            continue
        conversation.routed_at = now
        days = _history_days(heard, conversation, message, now)
        if days:
            events.append(_archive(conversation, message, days, now))
        else:
            events.append(
                {
                    "conversation_id": conversation.id,
                    "type": "routed",
                    "data": {"why": UNCONFIGURED},
                }
            )
    if events:
        session.execute(insert(EVENTS), events)


def _history_days(
    heard: Heard, conversation: Conversation, message: Message, now: datetime
) -> int | None:
    """The channel's archive age in days when `message` is older than it, else None.

    History is filed, not answered: when a first import brings in last year's mail, nobody
    should get an acknowledgement or a promise for it, and agents' queues stay clear.
    """
    try:
        days = heard.channel_config(conversation.account).archive_after_days
    except KeyError:  # the channel was removed from the config since
        return None
    if days and message.created_at < now - timedelta(days=days):
        return days
    return None


def _archive(
    conversation: Conversation, message: Message, days: int, now: datetime
) -> dict[str, object]:
    """Resolve a conversation as history; returns its `archived` event row."""
    conversation.status = "resolved"
    conversation.resolved_at = now
    return {
        "conversation_id": conversation.id,
        "type": "archived",
        "actor": "system",
        "data": {
            "why": f"history: the customer wrote more than {days} days before it reached Heard",
            "received_at": message.created_at.isoformat(),
        },
    }


def _route_new(
    heard: Heard,
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    message: Message,
    actions: Actions,
    now: datetime,
) -> None:
    conversation.routed_at = now
    if actions.resolve or actions.spam:
        conversation.status = "resolved"
        conversation.resolved_at = now
        why = "spam" if actions.spam else "resolved by rule"
        session.add(
            Event(
                conversation_id=conversation.id,
                type="auto_resolved",
                actor="rules",
                data={"why": why},
            )
        )
        return
    conversation.sla_policy = actions.sla or _team_sla(ruleset, actions.team)
    conversation.first_response_at = None
    conversation.sla_warned_at = conversation.escalated_at = conversation.sla_paused_at = None
    set_due_times(ruleset, conversation, min(message.created_at, now))
    choice = route_owner(session, ruleset, conversation, actions, now=now)
    if conversation.first_response_due is not None:
        session.add(
            Event(
                conversation_id=conversation.id,
                type="sla_set",
                actor="rules",
                data={
                    "policy": conversation.sla_policy,
                    "first_response_due": conversation.first_response_due.isoformat(),
                    "resolution_due": conversation.resolution_due.isoformat()
                    if conversation.resolution_due
                    else None,
                },
            )
        )
    _acknowledge(heard, session, ruleset, conversation, message, actions, now)
    if choice.agent:
        notify_owner(
            heard, session, conversation, owner=choice.agent, kind="agent", reason="assigned"
        )
    elif choice.team:
        notify_owner(heard, session, conversation, owner=choice.team, kind="team", reason="queued")


def _acknowledge(
    heard: Heard,
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    message: Message,
    actions: Actions,
    now: datetime,
) -> None:
    """At most once per conversation (ingest clears ack_sent_at on a reopen); never to machines."""
    if conversation.ack_sent_at is not None:
        return
    why_not = _no_ack_reason(message, actions)
    rendered = None
    if why_not is None:
        rendered = customer_text(
            session, ruleset, conversation, actions.ack or "ack", conversation.first_response_due
        )
    if rendered is None:
        why = why_not or f"no template {actions.ack!r}"
        session.add(
            Event(
                conversation_id=conversation.id,
                type="ack_skipped",
                actor="rules",
                data={"why": why},
            )
        )
        return
    text, language = rendered
    outbound = queue_outbound(
        session,
        conversation,
        text=text,
        kind=MessageKind.ACK,
        auto_reply_cap=_cap(heard, conversation),
        now=now,
    )
    if outbound is None:
        return  # the outbox recorded why (machine conversation, hourly cap)
    conversation.ack_sent_at = now
    session.add(
        Event(
            conversation_id=conversation.id,
            type="ack_queued",
            actor="rules",
            data={"template": actions.ack, "language": language, "outbound_id": outbound.id},
        )
    )


def _no_ack_reason(message: Message, actions: Actions) -> str | None:
    if message.sender_kind != "human":
        return f"sender is {message.sender_kind}, not a person (RFC 3834)"
    if message.no_auto_reply_reason:
        return message.no_auto_reply_reason
    if not actions.ack:
        return "the rule says no acknowledgement"
    return None


def _cap(heard: Heard, conversation: Conversation) -> int:
    try:
        return heard.channel_config(conversation.account).auto_reply_per_hour
    except KeyError:
        return 3


def _team_sla(ruleset: RuleSet, team: str | None) -> str | None:
    definition = ruleset.teams.get(team or "")
    return definition.sla if definition else None


def _latest_inbound(session: Session, conversation_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.IN.value)
        .order_by(Message.id.desc())
        .limit(1)
    )


def _reopened_since_routing(session: Session, conversation: Conversation) -> bool:
    assert conversation.routed_at is not None
    return (
        session.scalar(
            select(Event.id)
            .where(
                Event.conversation_id == conversation.id,
                Event.type == "reopened",
                Event.created_at >= conversation.routed_at,
            )
            .limit(1)
        )
        is not None
    )


def _facts(
    conversation: Conversation,
    message: Message,
    contact: Contact | None,
    *,
    first_message: bool,
    now: datetime,
) -> Facts:
    return Facts(
        channel=conversation.channel,
        account=conversation.account,
        text=message.text,
        now=now,
        subject=message.subject or conversation.subject,
        sender=message.sender_handle,
        sender_email=contact.email if contact else None,
        sender_kind=message.sender_kind,
        contact_tags=frozenset(str(t) for t in (contact.tags if contact else []) or []),
        language=conversation.language,
        first_message=first_message,
        public=conversation.is_public,
    )


def _record_rules(session: Session, conversation: Conversation, decision: Decision) -> None:
    actions = decision.actions
    data = {
        "rules": list(decision.hits),
        "team": actions.team,
        "agent": actions.agent,
        "priority": actions.priority,
        "sla": actions.sla,
        "tags": list(actions.tags),
        "ack": actions.ack,
    }
    kind = "rules_matched" if decision.hits else "rules_defaulted"
    session.add(Event(conversation_id=conversation.id, type=kind, actor="rules", data=data))


def _apply_tags_and_priority(conversation: Conversation, actions: Actions) -> None:
    have = set(conversation.tags)
    for tag in (*actions.tags, *(["spam"] if actions.spam else [])):
        if tag not in have:
            conversation.tag_rows.append(ConversationTag(tag=tag))
            have.add(tag)
    if actions.priority:
        # Rules only ever raise priority: an agent's (or an earlier rule's) higher choice stands.
        conversation.priority = max(conversation.priority, PRIORITIES.index(actions.priority))

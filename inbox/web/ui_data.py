"""What the agents' pages read from the store, as plain functions of a session.

The queue goes through `inbox.queries.list_conversations` (the one place that lists
conversations); this module adds what only the pages need: saved views, the filter chips'
choices, the conversation page's bundle and canned responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from inbox import queries
from inbox.app import Heard
from inbox.models import Agent, Conversation, ConversationTag, Event, Message, Outbound
from inbox.web.ui_render import QueueRow, row_of

# Saved views: name → (label, the filter they stand for). "me" becomes the signed-in agent.
VIEWS: dict[str, tuple[str, dict[str, Any]]] = {
    "mine": ("Mine", {"assignee": "me", "status": ("open", "pending")}),
    "unassigned": ("Unassigned", {"assignee": "unassigned", "status": ("open",)}),
    "due": ("Due soon", {"sla": "due_soon", "status": ("open", "pending")}),
    "open": ("All open", {"status": ("open",)}),
}
DEFAULT_VIEW = "open"
LIST_PARAMS = ("status", "channel", "priority")
ONE_PARAMS = ("sla", "tag", "team", "assignee", "q", "sort", "after")
TAG_CHOICES = 30
AUTOMATIC_TEMPLATES = frozenset({"ack", "update", "survey"})


def queue_filter(params: Mapping[str, str], agent_key: str, limit: int = 50) -> queries.QueueFilter:
    """The filter a queue URL asks for: a saved view, then any explicit parameters on top."""
    view = params.get("view") or (DEFAULT_VIEW if not _explicit(params) else "")
    base: dict[str, Any] = dict(VIEWS[view][1]) if view in VIEWS else {}
    for name in LIST_PARAMS:
        if params.get(name):
            base[name] = tuple(v for v in params[name].split(",") if v)
    for name in ONE_PARAMS:
        if params.get(name):
            base[name] = params[name]
    if base.get("assignee") == "me":
        base["assignee"] = agent_key
    return queries.QueueFilter(limit=limit, **base)


def _explicit(params: Mapping[str, str]) -> bool:
    return any(params.get(name) for name in (*LIST_PARAMS, *ONE_PARAMS) if name != "after")


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    tags: list[str]
    teams: list[str]


def queue_page(session: Session, heard: Heard, f: queries.QueueFilter) -> QueuePage:
    page = queries.list_conversations(session, f)
    tags = list(
        session.scalars(
            select(ConversationTag.tag).distinct().order_by(ConversationTag.tag).limit(TAG_CHOICES)
        )
    )
    return QueuePage([row_of(c) for c in page.items], page.next_cursor, tags, teams(heard))


def teams(heard: Heard) -> list[str]:
    source = heard.settings.source
    raw = source.data.get("teams", {}) if source is not None else {}
    return sorted(raw) if isinstance(raw, dict) else []


def agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.key)))


@dataclass(slots=True)
class ConversationBundle:
    conversation: Conversation
    row: QueueRow
    messages: list[Message]
    events: list[Event]
    others: list[QueueRow]
    agents: list[Agent]
    teams: list[str]
    canned: list[tuple[str, str]] = field(default_factory=list)
    delivery: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        """Agent key → display name, for the authors of our messages."""
        return {a.key: a.name or a.key for a in self.agents}


def conversation_bundle(
    session: Session, heard: Heard, conversation_id: int
) -> ConversationBundle | None:
    conversation = queries.get_conversation(session, conversation_id)
    if conversation is None:
        return None
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.created_at, Message.id)
            .options(selectinload(Message.attachments))
        )
    )
    events = list(
        session.scalars(
            select(Event).where(Event.conversation_id == conversation.id).order_by(Event.id.desc())
        )
    )
    sends = session.execute(
        select(Outbound.message_id, Outbound.status, Outbound.last_error).where(
            Outbound.conversation_id == conversation.id
        )
    ).all()
    return ConversationBundle(
        delivery={message_id: (status, error) for message_id, status, error in sends},
        conversation=conversation,
        row=row_of(conversation),
        messages=messages,
        events=events,
        others=[row_of(c) for c in queries.other_conversations(session, conversation)],
        agents=agents(session),
        teams=teams(heard),
        canned=canned_responses(heard, conversation),
    )


def canned_responses(heard: Heard, conversation: Conversation) -> list[tuple[str, str]]:
    """(name, text) of the admin's templates that are not automatic messages, filled in."""
    from rules.templates import render

    source = heard.settings.source
    raw = source.data.get("templates", {}) if source is not None else {}
    if not isinstance(raw, dict):
        return []
    templates = {
        name: {lang: text for lang, text in texts.items() if isinstance(text, str)}
        for name, texts in raw.items()
        if isinstance(texts, dict) and name not in AUTOMATIC_TEMPLATES
    }
    variables = {
        "customer_name": conversation.contact.name,
        "owner_name": conversation.assignee or conversation.team or "",
        "team_name": conversation.team or "",
        "reference": conversation.reference or "",
        "channel": conversation.channel,
        "due": "",
        "due_at": "",
    }
    found = []
    for name in sorted(templates):
        try:
            rendered = render(
                templates,
                name,
                conversation.language,
                heard.settings.rules.default_language,
                variables,
            )
        except Exception:  # a broken template must not take the conversation page down
            continue
        if rendered:
            found.append((name, rendered[0]))
    return found

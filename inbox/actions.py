"""What agents do to conversations, shared by the REST API, the web UI and the CLI.

Each action changes the conversation in the caller's transaction and records an Event, so the
history shows who did what and when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from inbox.errors import BadInput
from inbox.models import Conversation, Event, Outbound, utcnow
from inbox.outbox import queue_outbound
from inbox.types import MessageKind


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

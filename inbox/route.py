"""Routing a conversation after new customer messages (minimal until the rules engine lands)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from inbox.models import Conversation, Event, utcnow

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)


def route_conversation(heard: Heard, session: Session, conversation_id: int) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    if conversation.routed_at is None:
        conversation.routed_at = utcnow()
        session.add(Event(conversation_id=conversation.id, type="routed", data={}))
    log.info("routed conversation %s", conversation.reference)

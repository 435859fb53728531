"""`conversations.sla_due_at`, the queue's sort key, follows the deadline being raced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import NO_DUE, Conversation
from tests.inbox.helpers import inbound


def test_sla_due_at_tracks_first_response_then_resolution_then_nothing(heard: Heard) -> None:
    [result] = store_messages(heard, [inbound("m1")])
    first = datetime(2030, 1, 1, 9, tzinfo=UTC)
    resolution = first + timedelta(days=2)

    def step(**values: object) -> datetime:
        with heard.sessions() as session, session.begin():
            conversation = session.get(Conversation, result.conversation_id)
            assert conversation is not None
            for name, value in values.items():
                setattr(conversation, name, value)
        with heard.sessions() as session:
            conversation = session.get(Conversation, result.conversation_id)
            assert conversation is not None
            return conversation.sla_due_at

    assert step(first_response_due=first, resolution_due=resolution) == first
    assert step(first_response_at=first - timedelta(hours=1)) == resolution
    assert step(status="resolved") == NO_DUE
    assert step(status="open", resolution_due=None) == NO_DUE

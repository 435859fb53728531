"""A small team's config and helpers shared by the route, SLA and routing tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import Conversation, Event, Outbound
from inbox.route import route_conversation
from inbox.sla import TickReport, sla_tick
from tests.conftest import BASE_CONFIG
from tests.inbox.helpers import inbound

TEAM_CONFIG = (
    BASE_CONFIG
    + """
[business_hours.office]
timezone = "Europe/Berlin"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-18:00"

[sla.standard]
first_response = "2h"
resolution = "8h"
business_hours = "office"
warn_before = "30m"

[sla.chat]
first_response = "5m"
resolution = "1h"
warn_before = "2m"

[agents.ann]
name = "Ann Smith"
email = "ann@example.com"
capacity = 2
languages = ["en", "de"]

[agents.boris]
name = "Boris Ivanov"
capacity = 2
languages = ["en", "ru"]
skills = ["money"]

[agents.lead]
name = "Lea Lead"
capacity = 50

[teams.support]
name = "Customer Support"
agents = ["ann", "boris"]
strategy = "round_robin"
escalate_to = "lead"
sla = "standard"

[teams.billing]
name = "Billing"
agents = ["ann", "boris"]
strategy = "least_loaded"
escalate_to = "support"

[teams.desk]
agents = ["ann"]
strategy = "manual"

[templates.ack]
en = "Hi {{ customer_name }}, we have your message ({{ reference }}). {{ owner_name }} will reply by {{ due }}."
de = "Hallo {{ customer_name }}, Ihre Nachricht ({{ reference }}) ist da. {{ owner_name }} antwortet bis {{ due }}."
ru = "Здравствуйте, {{ customer_name }}! Обращение {{ reference }} получено. {{ owner_name }} ответит до {{ due }}."

[templates.update]
en = "Still on it ({{ reference }}): {{ owner_name }} will answer by {{ due }}."

[defaults]
team = "support"

[[rules.list]]
name = "Refunds go to billing"
when.text_any = ["refund", "возврат"]
then.team = "billing"
then.priority = "high"
then.sla = "chat"
then.tags = ["refund"]
stop = true

[[rules.list]]
name = "Casino spam"
when.text_any = ["casino"]
then.spam = true
stop = true

[[rules.list]]
name = "Quiet"
when.text_any = ["noack"]
then.ack = false

[[rules.list]]
name = "Desk"
when.text_any = ["desk"]
then.team = "desk"

[[rules.list]]
name = "Money skills"
when.text_any = ["wire transfer"]
then.skills = ["money"]
"""
)


def arrive(heard: Heard, external_id: str, text: str, **kwargs: Any) -> int:
    """Store one webhook message (no queue) and return its conversation id."""
    [result] = store_messages(heard, [inbound(external_id, text=text, **kwargs)])
    return result.conversation_id


def route(heard: Heard, conversation_id: int, now: datetime | None = None) -> None:
    with heard.sessions() as session, session.begin():
        route_conversation(heard, session, conversation_id, now=now)


def tick(heard: Heard, now: datetime) -> TickReport:
    with heard.sessions() as session, session.begin():
        return sla_tick(heard, session, now)


def conversation(heard: Heard, conversation_id: int) -> Conversation:
    with heard.sessions() as session:
        found = session.get(Conversation, conversation_id)
        assert found is not None
        _ = found.tags
        return found


def events(heard: Heard, conversation_id: int, kind: str | None = None) -> list[Event]:
    with heard.sessions() as session:
        query = select(Event).where(Event.conversation_id == conversation_id).order_by(Event.id)
        if kind:
            query = query.where(Event.type == kind)
        return list(session.scalars(query))


def outbound(heard: Heard, conversation_id: int, kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, text) of every queued outbound message of the conversation."""
    from inbox.models import Message

    with heard.sessions() as session:
        query = (
            select(Outbound.kind, Message.text)
            .join(Message, Message.id == Outbound.message_id)
            .where(Outbound.conversation_id == conversation_id)
            .order_by(Outbound.id)
        )
        rows = [(str(k), str(t)) for k, t in session.execute(query)]
    return [r for r in rows if kind is None or r[0] == kind]


def session_of(heard: Heard) -> Session:
    return heard.sessions()

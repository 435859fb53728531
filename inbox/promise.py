"""The customer promise in words and times: due times from the SLA, ack and update texts.

Shared by routing (the first promise, in the acknowledgement) and the SLA clock (the update
before a miss), so both speak with the same names, times and languages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.models import Agent, Contact, Conversation
from rules.ruleset import RuleSet
from rules.templates import human_due, render


def set_due_times(ruleset: RuleSet, conversation: Conversation, start: datetime) -> None:
    """First-response and resolution due times, counted in the policy's business hours."""
    sla = ruleset.slas.get(conversation.sla_policy or "")
    if sla is None:
        conversation.first_response_due = conversation.resolution_due = None
        return
    clock = ruleset.clock_for(conversation.sla_policy)
    conversation.first_response_due = clock.add(start, sla.first_response)
    conversation.resolution_due = clock.add(start, sla.resolution) if sla.resolution else None


def owner_names(session: Session, ruleset: RuleSet, conversation: Conversation) -> tuple[str, str]:
    """(owner name, team name) as the customer should read them."""
    team = ruleset.teams.get(conversation.team or "")
    team_name = (team.name or conversation.team or "") if team else (conversation.team or "")
    owner = ""
    if conversation.assignee:
        definition = ruleset.agents.get(conversation.assignee)
        owner = definition.name if definition and definition.name else ""
        if not owner:
            owner = (
                session.scalar(select(Agent.name).where(Agent.key == conversation.assignee)) or ""
            )
    return owner or team_name, team_name


def customer_text(
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    template: str,
    due: datetime | None,
) -> tuple[str, str] | None:
    """Render `template` for this conversation; (text, language) or None if there is none."""
    contact = session.get(Contact, conversation.contact_id)
    owner, team = owner_names(session, ruleset, conversation)
    language = conversation.language or (contact.language if contact else None)
    timezone = ruleset.timezone_for(conversation.sla_policy)
    variables: dict[str, Any] = {
        "customer_name": (contact.name if contact else "") or "",
        "owner_name": owner,
        "team_name": team,
        "reference": conversation.reference or "",
        "due": human_due(due, language or ruleset.default_language, timezone),
        "due_at": due.isoformat() if due else "",
        "channel": conversation.channel,
    }
    return render(ruleset.templates, template, language, ruleset.default_language, variables)

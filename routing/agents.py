"""Agents from the rules config, mirrored into the `agents` table, and their availability.

The config is the source of truth for who exists (name, email, capacity, languages); the table
adds what changes at run time (away, password, role) and is what assignment locks, so both the
web UI and concurrent workers see one row per agent.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.errors import BadInput
from inbox.models import Agent, Event
from rules.ruleset import RuleSet


def sync_agents(session: Session, ruleset: RuleSet) -> list[str]:
    """Create or update config agents; returns the keys created. Never touches away/passwords."""
    existing = {
        a.key: a for a in session.scalars(select(Agent).where(Agent.key.in_(list(ruleset.agents))))
    }
    created = []
    for key, definition in ruleset.agents.items():
        agent = existing.get(key)
        if agent is None:
            agent = Agent(key=key)
            session.add(agent)
            created.append(key)
        agent.name = definition.name or agent.name or key
        if definition.email:
            agent.email = definition.email
        agent.capacity = definition.capacity
        agent.languages = list(definition.languages)
        if definition.role is not None:
            agent.role = definition.role
    session.flush()
    return created


def set_away(session: Session, key: str, away: bool, actor: str = "system") -> bool:
    """Mark an agent away (no new conversations) or back; returns whether it changed."""
    agent = session.scalar(select(Agent).where(Agent.key == key))
    if agent is None:
        known = ", ".join(session.scalars(select(Agent.key).order_by(Agent.key))) or "none"
        raise BadInput(f"no agent {key!r}; known agents: {known}")
    if agent.away == away:
        return False
    agent.away = away
    session.add(
        Event(
            conversation_id=None,
            type="agent_away" if away else "agent_back",
            actor=actor,
            data={"agent": key},
        )
    )
    return True

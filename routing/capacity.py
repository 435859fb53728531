"""How loaded agents are, under a lock, so assignment can never push anyone over capacity.

`lock_agents` takes the agents' rows FOR UPDATE in key order (one order for every worker, so two
workers cannot deadlock) and only then counts their open conversations: a worker waiting for the
lock counts again after the other commits (PostgreSQL READ COMMITTED takes a fresh snapshot per
statement), so the count it acts on includes the assignment it waited for. SQLite serializes
writers with BEGIN IMMEDIATE, which gives the same guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox.models import Agent, Conversation

LOAD_STATUSES = ("open", "pending")


def lock_agents(session: Session, keys: Iterable[str]) -> dict[str, Agent]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.scalars(
        select(Agent).where(Agent.key.in_(wanted)).order_by(Agent.key).with_for_update()
    ).all()
    return {agent.key: agent for agent in rows}


def open_load(
    session: Session, keys: Iterable[str], *, excluding: int | None = None
) -> dict[str, int]:
    """Open conversations per agent (not counting conversation `excluding`, being re-routed)."""
    wanted = list(keys)
    query = (
        select(Conversation.assignee, func.count(Conversation.id))
        .where(Conversation.assignee.in_(wanted), Conversation.status.in_(LOAD_STATUSES))
        .group_by(Conversation.assignee)
    )
    if excluding is not None:
        query = query.where(Conversation.id != excluding)
    counts = {key: 0 for key in wanted}
    for key, count in session.execute(query):
        counts[str(key)] = int(count)
    return counts


def available(agent: Agent | None) -> bool:
    return agent is not None and agent.active and not agent.away

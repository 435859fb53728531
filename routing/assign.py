"""Picking an owner: a named agent, the previous owner (sticky), or a team member by strategy.

Every path goes through `_assign_first`, which locks the candidates, counts their load and
assigns the first one in the strategy's order that is available and under capacity. When
nobody is, the conversation waits in the team's queue (team set, no assignee) and
`assign_waiting` hands it out when capacity frees up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.models import Agent, Conversation, Event
from routing.capacity import available, lock_agents, open_load
from routing.counters import next_value
from rules.matcher import Actions
from rules.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class Choice:
    agent: str | None
    team: str | None
    how: (
        str  # direct | sticky | round_robin | least_loaded | over_capacity | queued | manual | none
    )


def route_owner(
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    actions: Actions,
    *,
    now: datetime,
) -> Choice:
    """Assign the conversation per the rule actions; records an Event and returns the choice."""
    choice = _choose(session, ruleset, conversation, actions, now)
    conversation.team = choice.team
    conversation.assignee = choice.agent
    session.add(
        Event(
            conversation_id=conversation.id,
            type="assigned" if choice.agent else "queued",
            actor="rules",
            data={"agent": choice.agent, "team": choice.team, "how": choice.how},
        )
    )
    return choice


def _choose(
    session: Session, ruleset: RuleSet, conversation: Conversation, actions: Actions, now: datetime
) -> Choice:
    team_key = actions.team
    if actions.agent and _assign_first(
        session, conversation, [actions.agent], force=actions.over_capacity
    ):
        return Choice(actions.agent, team_key, "direct")
    if team_key is None or team_key not in ruleset.teams:
        return Choice(None, team_key, "none")
    team = ruleset.teams[team_key]
    strategy = actions.strategy or team.strategy
    if strategy == "manual":
        return Choice(None, team_key, "manual")
    candidates = _candidates(ruleset, list(team.agents), actions.skills, conversation.language)
    previous = _previous_owner(session, ruleset, conversation, now)
    if previous and previous in candidates and _assign_first(session, conversation, [previous]):
        return Choice(previous, team_key, "sticky")
    order = _order(session, ruleset, conversation, candidates, strategy, team_key)
    picked = _assign_first(session, conversation, order)
    if picked:
        return Choice(picked, team_key, strategy)
    if actions.over_capacity:
        picked = _assign_first(
            session, conversation, _by_load(session, ruleset, conversation, candidates), force=True
        )
        if picked:
            return Choice(picked, team_key, "over_capacity")
    return Choice(None, team_key, "queued")


def _candidates(
    ruleset: RuleSet, keys: list[str], skills: Sequence[str], language: str | None
) -> list[str]:
    """Team members with the needed skills; those speaking the customer's language if any do."""
    members = [
        k for k in keys if k in ruleset.agents and set(skills) <= set(ruleset.agents[k].skills)
    ]
    if ruleset.routing.prefer_language and language:
        speakers = [k for k in members if language in ruleset.agents[k].languages]
        if speakers:
            return speakers
    return members


def _order(
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    candidates: list[str],
    strategy: str,
    team: str,
) -> list[str]:
    if not candidates:
        return []
    if strategy == "least_loaded":
        return _by_load(session, ruleset, conversation, candidates)
    # Round robin: one shared turn counter per team, so turns are fair across workers and restarts.
    turn = next_value(session, f"round_robin:{team}") - 1
    start = turn % len(candidates)
    return candidates[start:] + candidates[:start]


def _by_load(
    session: Session, ruleset: RuleSet, conversation: Conversation, candidates: list[str]
) -> list[str]:
    load = open_load(session, candidates, excluding=conversation.id)
    capacity = {k: max(1, ruleset.agents[k].capacity) for k in candidates}
    return sorted(candidates, key=lambda k: (load[k] / capacity[k], load[k], candidates.index(k)))


def _assign_first(
    session: Session, conversation: Conversation, order: list[str], *, force: bool = False
) -> str | None:
    """Assign to the first available agent in `order` under capacity (any load when forced)."""
    agents = lock_agents(session, order)
    load = open_load(session, [k for k in order if k in agents], excluding=conversation.id)
    for key in order:
        agent = agents.get(key)
        if not available(agent):
            continue
        assert agent is not None
        if force or load[key] < agent.capacity:
            conversation.assignee = key
            session.flush()
            return key
    return None


def _previous_owner(
    session: Session, ruleset: RuleSet, conversation: Conversation, now: datetime
) -> str | None:
    """The agent who last owned a conversation of this customer (sticky routing)."""
    if not ruleset.routing.sticky:
        return None
    if conversation.assignee:
        return conversation.assignee
    since = now - timedelta(days=ruleset.routing.sticky_days)
    return session.scalar(
        select(Conversation.assignee)
        .where(
            Conversation.contact_id == conversation.contact_id,
            Conversation.id != conversation.id,
            Conversation.assignee.is_not(None),
            Conversation.last_activity_at >= since,
        )
        .order_by(Conversation.last_activity_at.desc())
        .limit(1)
    )


def assign_agent(
    session: Session, conversation: Conversation, key: str, *, force: bool = False
) -> bool:
    """Give the conversation to one agent if available (and under capacity unless forced)."""
    return _assign_first(session, conversation, [key], force=force) is not None


def assign_waiting(session: Session, ruleset: RuleSet, now: datetime, limit: int = 200) -> int:
    """Hand out queued conversations (team set, nobody assigned) to agents with room again."""
    waiting = session.scalars(
        select(Conversation)
        .where(
            Conversation.status == "open",
            Conversation.assignee.is_(None),
            Conversation.team.is_not(None),
        )
        .order_by(Conversation.priority.desc(), Conversation.created_at, Conversation.id)
        .limit(limit)
    ).all()
    assigned = 0
    full: set[str] = set()
    for conversation in waiting:
        team_key = conversation.team or ""
        team = ruleset.teams.get(team_key)
        if team is None or team.strategy == "manual" or team_key in full:
            continue
        if not _has_room(session, ruleset, team.agents):
            full.add(team_key)  # nobody there has room: skip the rest of this team's queue
            continue
        choice = _choose(session, ruleset, conversation, Actions(team=team_key), now)
        if choice.agent:
            conversation.assignee = choice.agent
            session.add(
                Event(
                    conversation_id=conversation.id,
                    type="assigned",
                    actor="rules",
                    data={
                        "agent": choice.agent,
                        "team": team_key,
                        "how": f"from queue ({choice.how})",
                    },
                )
            )
            assigned += 1
    return assigned


def _has_room(session: Session, ruleset: RuleSet, keys: Sequence[str]) -> bool:
    """A cheap unlocked look: is any available member under capacity? (assignment re-checks)"""
    members = [k for k in keys if k in ruleset.agents]
    agents = {a.key: a for a in session.scalars(select(Agent).where(Agent.key.in_(members)))}
    load = open_load(session, members)
    return any(available(agents.get(k)) and load[k] < agents[k].capacity for k in members)

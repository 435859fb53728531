"""The SLA clock: pause while waiting on the customer, warn before a miss, escalate on a miss.

`sla_tick(heard, session, now)` runs periodically in one transaction. It takes the current
time as a parameter (tests pass fixed times, never sleep). Clocks count business time: a
conversation paused over a weekend does not lose its Friday afternoon. The running clock is the
first-response clock until an agent replies (the reply action sets `first_response_at`), then
the resolution clock. Each conversation gets at most one update and one escalation per promise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from inbox.models import NO_DUE, PRIORITIES, Conversation, Event
from inbox.notify import notify_owner
from inbox.outbox import queue_outbound
from inbox.promise import customer_text
from inbox.rulebook import rules_for
from inbox.types import MessageKind
from routing.assign import assign_agent, assign_waiting, route_owner
from rules.matcher import Actions
from rules.ruleset import RuleSet

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

PAUSED_STATUSES = ("pending", "snoozed")


@dataclass
class TickReport:
    paused: int = 0
    resumed: int = 0
    updates: int = 0
    escalated: int = 0
    assigned_from_queue: int = 0
    woken: int = 0


def sla_tick(heard: Heard, session: Session, now: datetime) -> TickReport:
    ruleset = rules_for(heard, session)
    report = TickReport()
    for conversation in _to_pause(session):
        report.paused += pause(session, conversation, now)
    report.woken = wake_snoozed(session, now)
    session.flush()
    for conversation in _to_resume(session):
        report.resumed += resume(session, ruleset, conversation, now)
    session.flush()  # resumed due times are what the next query must see
    for conversation in _due_or_near(session, ruleset, now):
        due, clock_name = running_due(conversation)
        if due is None:
            continue
        if now >= due:
            if conversation.escalated_at is None:
                escalate(heard, session, ruleset, conversation, now, clock_name)
                report.escalated += 1
        elif conversation.sla_warned_at is None and _near(ruleset, conversation, due, now):
            report.updates += send_update(heard, session, ruleset, conversation, due, now)
    report.assigned_from_queue = assign_waiting(session, ruleset, now)
    return report


def wake_snoozed(session: Session, now: datetime) -> int:
    """A snoozed conversation comes back to the queue when its time is up (its clock resumes)."""
    due = session.scalars(
        select(Conversation)
        .where(Conversation.status == "snoozed", Conversation.snoozed_until <= now)
        .order_by(Conversation.id)
        .with_for_update(skip_locked=True)
    ).all()
    for conversation in due:
        conversation.status, conversation.snoozed_until = "open", None
        session.add(
            Event(
                conversation_id=conversation.id,
                type="status_changed",
                actor="system",
                data={"from": "snoozed", "to": "open", "why": "snooze ended"},
            )
        )
    return len(due)


def _to_pause(session: Session) -> list[Conversation]:
    return list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.status.in_(PAUSED_STATUSES),
                Conversation.sla_paused_at.is_(None),
                Conversation.sla_due_at < NO_DUE,
            )
            .order_by(Conversation.id)
        )
    )


def _to_resume(session: Session) -> list[Conversation]:
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.status == "open", Conversation.sla_paused_at.is_not(None))
            .order_by(Conversation.id)
        )
    )


def _due_or_near(session: Session, ruleset: RuleSet, now: datetime) -> list[Conversation]:
    """Open conversations past their running deadline, or within their policy's warning time.

    "Within warn_before of the due time in business time" is "due before the instant
    warn_before of business time from now", so each policy becomes one indexed range on
    `sla_due_at` (kept by the store as the running deadline).
    """
    near = [
        and_(
            Conversation.sla_policy == name,
            Conversation.sla_warned_at.is_(None),
            Conversation.sla_due_at <= ruleset.clock_for(name).add(now, sla.warn_before),
        )
        for name, sla in ruleset.slas.items()
        if sla.warn_before is not None
    ]
    return list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.status == "open",
                Conversation.escalated_at.is_(None),
                Conversation.merged_into_id.is_(None),
                or_(Conversation.sla_due_at <= now, *near),
            )
            .order_by(Conversation.sla_due_at, Conversation.id)
        )
    )


def running_due(conversation: Conversation) -> tuple[datetime | None, str]:
    if conversation.first_response_at is None and conversation.first_response_due is not None:
        return conversation.first_response_due, "first_response"
    return conversation.resolution_due, "resolution"


def pause(session: Session, conversation: Conversation, now: datetime) -> int:
    """Stop the clocks while we wait on the customer (pending) or the conversation is snoozed."""
    if conversation.sla_paused_at is not None:
        return 0
    conversation.sla_paused_at = now
    session.add(
        Event(
            conversation_id=conversation.id, type="sla_paused", data={"status": conversation.status}
        )
    )
    return 1


def resume(session: Session, ruleset: RuleSet, conversation: Conversation, now: datetime) -> int:
    """Move the due times on by the business time that passed while paused."""
    paused_at = conversation.sla_paused_at
    if paused_at is None:
        return 0
    clock = ruleset.clock_for(conversation.sla_policy)
    shifted = {}
    for name in ("first_response_due", "resolution_due"):
        due: datetime | None = getattr(conversation, name)
        if due is None:
            continue
        remaining = clock.between(paused_at, due) if due > paused_at else timedelta()
        new_due = clock.add(now, remaining) if remaining else due
        setattr(conversation, name, new_due)
        shifted[name] = new_due.isoformat()
    conversation.sla_paused_at = None
    session.add(Event(conversation_id=conversation.id, type="sla_resumed", data=shifted))
    return 1


def _near(ruleset: RuleSet, conversation: Conversation, due: datetime, now: datetime) -> bool:
    sla = ruleset.slas.get(conversation.sla_policy or "")
    if sla is None or sla.warn_before is None:
        return False
    return ruleset.clock_for(conversation.sla_policy).between(now, due) <= sla.warn_before


def send_update(
    heard: Heard,
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    due: datetime,
    now: datetime,
) -> int:
    """One update to the customer: a new expected time and who owns it."""
    conversation.sla_warned_at = now
    sla = ruleset.slas[conversation.sla_policy or ""]
    extension = sla.update_extends or sla.warn_before or timedelta(hours=1)
    expected = ruleset.clock_for(conversation.sla_policy).add(due, extension)
    rendered = customer_text(session, ruleset, conversation, "update", expected)
    outbound = None
    if rendered is not None:
        outbound = queue_outbound(
            session,
            conversation,
            text=rendered[0],
            kind=MessageKind.UPDATE,
            auto_reply_cap=_cap(heard, conversation),
            now=now,
        )
    session.add(
        Event(
            conversation_id=conversation.id,
            type="update_queued" if outbound else "update_skipped",
            data={
                "due": due.isoformat(),
                "new_expected": expected.isoformat(),
                "outbound_id": outbound.id if outbound else None,
            },
        )
    )
    return 1 if outbound else 0


def escalate(
    heard: Heard,
    session: Session,
    ruleset: RuleSet,
    conversation: Conversation,
    now: datetime,
    clock_name: str,
) -> None:
    """A missed promise: raise priority, hand to the escalation target, record it, notify."""
    conversation.escalated_at = now
    before = {
        "agent": conversation.assignee,
        "team": conversation.team,
        "priority": conversation.priority_name,
    }
    conversation.priority = min(conversation.priority + 1, len(PRIORITIES) - 1)
    target = _escalation_target(ruleset, conversation)
    owner, kind = None, "agent"
    if target and target in ruleset.agents:
        if assign_agent(session, conversation, target, force=True):
            owner = target
    elif target and target in ruleset.teams:
        conversation.assignee = None
        choice = route_owner(session, ruleset, conversation, Actions(team=target), now=now)
        owner, kind = (choice.agent, "agent") if choice.agent else (target, "team")
    session.add(
        Event(
            conversation_id=conversation.id,
            type="escalated",
            data={
                "missed": clock_name,
                "target": target,
                "owner": owner,
                "before": before,
                "priority": conversation.priority_name,
            },
        )
    )
    if owner:
        notify_owner(heard, session, conversation, owner=owner, kind=kind, reason="escalated")
    elif conversation.assignee:
        notify_owner(
            heard,
            session,
            conversation,
            owner=conversation.assignee,
            kind="agent",
            reason="escalated",
        )


def _escalation_target(ruleset: RuleSet, conversation: Conversation) -> str | None:
    team = ruleset.teams.get(conversation.team or "")
    if team is not None and team.escalate_to:
        return team.escalate_to
    return ruleset.defaults.escalate_to


def _cap(heard: Heard, conversation: Conversation) -> int:
    try:
        return heard.channel_config(conversation.account).auto_reply_per_hour
    except KeyError:
        return 3

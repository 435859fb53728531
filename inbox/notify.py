"""Telling an agent (or a team) that a conversation is now theirs.

Pluggable: set `heard.notifier` to anything with `notify(...)`. The default emails the owner
through the first configured email channel, after the routing transaction commits (so a rolled
back decision notifies nobody), and is a safe no-op when there is no email channel or no
address. Either way the decision is an Event, so `conversations show` tells who was told.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from inbox.models import Agent, Conversation, Event
from inbox.types import MessageKind, OutboundMessage

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify(
        self,
        heard: Heard,
        session: Session,
        conversation: Conversation,
        *,
        owner: str,
        kind: str,
        reason: str,
    ) -> None: ...


def notifier_for(heard: Heard) -> Notifier:
    custom: Notifier | None = getattr(heard, "notifier", None)
    return custom if custom is not None else EmailNotifier()


def notify_owner(
    heard: Heard,
    session: Session,
    conversation: Conversation,
    *,
    owner: str,
    kind: str,
    reason: str,
) -> None:
    """kind is "agent" or "team"; reason is "assigned", "queued" or "escalated"."""
    notifier_for(heard).notify(heard, session, conversation, owner=owner, kind=kind, reason=reason)


class EmailNotifier:
    def notify(
        self,
        heard: Heard,
        session: Session,
        conversation: Conversation,
        *,
        owner: str,
        kind: str,
        reason: str,
    ) -> None:
        address = self._address(heard, session, owner, kind)
        channel = next((c for c in heard.enabled_channels() if c.type == "email"), None)
        via = "email" if address and channel is not None else None
        session.add(
            Event(
                conversation_id=conversation.id,
                type="owner_notified" if via else "owner_not_notified",
                actor="system",
                data={"owner": owner, "kind": kind, "reason": reason, "via": via},
            )
        )
        if not via or channel is None or address is None:
            return
        message = OutboundMessage(
            account=channel.name,
            conversation_id=conversation.id,
            reference=conversation.reference or "",
            recipient=address,
            text=_text(conversation, reason),
            kind=MessageKind.NOTE,
            idempotency_key=f"notify:{conversation.id}:{owner}:{reason}:{conversation.updated_at.isoformat()}",
            subject=f"{reason.capitalize()}: {conversation.subject or conversation.preview}"[:200],
        )
        event.listen(
            session, "after_commit", lambda _s: _send(heard, channel.name, message), once=True
        )

    def _address(self, heard: Heard, session: Session, owner: str, kind: str) -> str | None:
        if kind == "agent":
            return session.scalar(select(Agent.email).where(Agent.key == owner))
        rules: Any = heard.rules
        team = rules.current.teams.get(owner) if rules is not None else None
        return team.email if team is not None else None


def _text(conversation: Conversation, reason: str) -> str:
    what = {
        "assigned": "is now yours",
        "queued": "waits in your team's queue",
        "escalated": "was escalated to you",
    }
    return (
        f"Conversation {conversation.reference} {what.get(reason, reason)}.\n\n"
        f"{conversation.subject}\n{conversation.preview}\n"
    )


def _send(heard: Heard, account: str, message: OutboundMessage) -> None:
    if heard.channels is None:
        log.info("no channel loop; owner notification for %s not sent", message.reference)
        return
    try:
        heard.channels.call(account, lambda connector: connector.send(message), timeout=30)
    except Exception as exc:  # a notification must never break routing
        log.warning("owner notification for %s failed: %s", message.reference, exc)

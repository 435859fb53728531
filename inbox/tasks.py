"""Background work, as plain functions of (heard, ids): the queue turns them into actors.

Each task is thin, idempotent and re-reads state from the store, so a job delivered twice or
re-enqueued after a crash does no harm (design.md: queue).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from inbox.errors import PermanentError, RateLimitError
from inbox.models import Job, Outbound, utcnow
from inbox.outbox import (
    MAX_ATTEMPTS,
    backoff,
    build_outbound_message,
    claim,
    flush_enqueues,
    mark_failed,
    mark_retry,
    mark_sent,
    recover_stale,
)

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

ROUTE_RETRY_AFTER_SECONDS = 60


def route(heard: Heard, conversation_id: int) -> None:
    from inbox.route import route_conversation

    with heard.sessions() as session:
        with session.begin():
            route_conversation(heard, session, conversation_id)
            session.execute(
                update(Job)
                .where(Job.actor == "route", Job.ref_id == conversation_id, Job.status == "pending")
                .values(status="done", done_at=utcnow())
            )
        flush_enqueues(session, heard)


def deliver(heard: Heard, outbound_id: int, now: datetime | None = None) -> str:
    """Send one outbound row; returns what happened (sent, retry, failed, skipped)."""
    now = now or utcnow()
    with heard.sessions() as session, session.begin():
        if not claim(session, outbound_id, now):
            return "skipped"
        outbound = session.get(Outbound, outbound_id)
        assert outbound is not None
        message = build_outbound_message(session, outbound)
        account, attempts = outbound.account, outbound.attempts
    error: str | None = None
    delay = 0.0
    rate_limited = permanent = False
    try:
        assert heard.channels is not None, "no channel loop: start the queue first"
        delivery = heard.channels.call(account, lambda connector: connector.send(message))
    except RateLimitError as exc:
        error, delay, rate_limited = (
            f"waiting for the channel's rate-limit window: {exc}",
            exc.retry_after,
            True,
        )
    except PermanentError as exc:
        error, permanent = f"{type(exc).__name__}: {exc}", True
    except Exception as exc:  # a transient failure or a bug in a connector: retry, then fail
        log.warning("send of outbound %s failed (attempt %s): %s", outbound_id, attempts, exc)
        error = f"{type(exc).__name__}: {exc}"
        delay = backoff(attempts, heard.settings.queue.retry_base_seconds)
        permanent = attempts >= MAX_ATTEMPTS
    finished = utcnow()
    with heard.sessions() as session, session.begin():
        outbound = session.get(Outbound, outbound_id)
        assert outbound is not None
        if error is None:
            mark_sent(session, outbound, delivery, finished)
            outcome = "sent"
        elif permanent:
            mark_failed(session, outbound, error)
            outcome = "failed"
        else:
            mark_retry(session, outbound, error, delay, finished, rate_limited=rate_limited)
            outcome = "retry"
    if outcome == "retry" and heard.queue is not None:
        heard.queue.enqueue("deliver", outbound_id, delay_ms=int(delay * 1000) + 1)
    if outcome in ("sent", "failed"):
        from inbox import live

        live.publish(heard, {"type": "delivery", "outbound_id": outbound_id, "status": outcome})
    return outcome


def sla_tick(heard: Heard) -> None:
    """Send updates before a promise is missed and escalate when it is (inbox.sla)."""
    try:
        from inbox.sla import sla_tick as tick
    except ImportError:
        return
    with heard.sessions() as session:
        with session.begin():
            tick(heard, session, utcnow())
        flush_enqueues(session, heard)


def sweep(heard: Heard) -> dict[str, int]:
    """Re-enqueue work found pending in the store: what an in-process broker lost in a crash."""
    now = utcnow()
    with heard.sessions() as session, session.begin():
        recovered = recover_stale(session, now)
        due = session.scalars(
            select(Outbound.id).where(Outbound.status == "pending", Outbound.next_attempt_at <= now)
        ).all()
        routes = session.scalars(
            select(Job.ref_id).where(Job.actor == "route", Job.status == "pending").distinct()
        ).all()
    if heard.queue is not None:
        for outbound_id in due:
            heard.queue.enqueue("deliver", outbound_id)
        for conversation_id in routes:
            heard.queue.enqueue("route", conversation_id)
    return {"stale_sends": recovered, "deliveries": len(due), "routes": len(routes)}

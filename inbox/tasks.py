"""Background work, as plain functions of (heard, ids): the queue turns them into actors.

Each task is thin, idempotent and re-reads state from the store, so a job delivered twice or
re-enqueued after a crash does no harm (design.md: queue).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, select, update

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
JOBS = cast(Table, Job.__table__)
ROUTE_BATCH = 50  # conversations per routing transaction: short enough for SQLite's one writer


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


def route_many(heard: Heard, conversation_ids: list[int]) -> None:
    """Route a batch of conversations that have pending route jobs, many per transaction.

    A bulk import announces hundreds of conversations at once; one transaction and one queue
    message per conversation cost more than routing them. Each conversation is still routed
    under its own row lock and only while it has a pending route Job, and its jobs are marked
    done in the same transaction, so a batch delivered twice, or racing another worker, routes
    every conversation once. Conversations another transaction holds are routed one by one
    afterwards (waiting for the lock), and a failing batch is retried one conversation at a
    time so one bad conversation cannot hold back the others.
    """
    ids = sorted(set(conversation_ids))
    failure: Exception | None = None
    for start in range(0, len(ids), ROUTE_BATCH):
        chunk = ids[start : start + ROUTE_BATCH]
        try:
            left = _route_pending(heard, chunk, wait=False)
        except Exception as exc:
            log.warning("routing a batch failed (%s); routing it one by one", exc)
            left = chunk
        for conversation_id in left:
            try:
                _route_pending(heard, [conversation_id], wait=True)
            except Exception as exc:
                log.exception("routing conversation %s failed", conversation_id)
                failure = failure or exc
    if failure is not None:
        raise failure  # the queue retries; conversations routed meanwhile have no pending job


def _route_pending(heard: Heard, conversation_ids: list[int], *, wait: bool) -> list[int]:
    """Route those of `conversation_ids` with pending route jobs; returns the ids skipped
    because another transaction held them."""
    from inbox.route import latest_inbound, lock_for_routing, route_batch
    from inbox.rulebook import rules_for

    now = utcnow()
    with heard.sessions() as session:
        with session.begin():
            rules = rules_for(heard, session).configured  # without rules, tags are not touched
            locked = lock_for_routing(session, conversation_ids, wait=wait, tags=rules)
            held = {c.id for c in locked}
            jobs = session.execute(
                select(Job.id, Job.ref_id).where(
                    Job.actor == "route", Job.status == "pending", Job.ref_id.in_(list(held))
                )
            ).all()
            pending = {ref_id for _, ref_id in jobs}
            todo = [c for c in locked if c.id in pending and c.merged_into_id is None]
            messages = latest_inbound(session, [c.id for c in todo])
            routable = [(c, messages[c.id]) for c in todo if c.id in messages]
            route_batch(heard, session, routable, now)
            if jobs:  # a plain table UPDATE: no ORM bookkeeping over the session's objects
                session.execute(
                    update(JOBS)
                    .where(JOBS.c.id.in_([job_id for job_id, _ in jobs]))
                    .values(status="done", done_at=utcnow())
                )
        flush_enqueues(session, heard)
    return [cid for cid in conversation_ids if cid not in held]


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
        for start in range(0, len(routes), ROUTE_BATCH):
            heard.queue.enqueue("route_many", list(routes[start : start + ROUTE_BATCH]))
    return {"stale_sends": recovered, "deliveries": len(due), "routes": len(routes)}

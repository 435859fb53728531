"""The transactional outbox: sends reach the channel exactly once, failures stay visible."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from inbox.actions import reply
from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import Conversation, Event, Message, Outbound, utcnow
from inbox.outbox import flush_enqueues, queue_outbound
from inbox.tasks import deliver, sweep
from inbox.types import MessageKind, SenderKind
from tests.inbox.helpers import inbound
from tests.servers.http_receiver import Receiver


def config(callback: str, broker: str = "memory://", namespace: str = "heard") -> str:
    return f"""
[queue]
broker = "{broker}"
namespace = "{namespace}"
retry_base_seconds = 0.05

[[channels]]
type = "webhook"
name = "forms"
secret = "test-secret"
callback_url = "{callback}"
"""


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def broker(request: pytest.FixtureRequest) -> tuple[str, str]:
    if request.param == "memory":
        return "memory://", "heard"
    url: str = request.getfixturevalue("redis_url")
    return url, f"heard-test-{uuid.uuid4().hex[:8]}"


def conversation_id(heard: Heard, external_id: str = "m1", thread: str = "t-1") -> int:
    [result] = store_messages(
        heard,
        [
            inbound(
                external_id, keys=(f"thread:{thread}",), extras={"thread": {"thread_id": thread}}
            )
        ],
    )
    heard.queue.drain()
    return result.conversation_id


def queue_reply(heard: Heard, cid: int, text: str = "We are on it.") -> int:
    with heard.sessions() as session:
        with session.begin():
            conversation = session.get(Conversation, cid)
            assert conversation is not None
            outbound_id = reply(session, conversation, text, "ann").id
        flush_enqueues(session, heard)
    return outbound_id


def test_reply_reaches_the_receiver_once_despite_two_failures(
    make_heard,
    store_url: str,
    broker: tuple[str, str],
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    receiver.fail_first = 2
    heard = make_heard(config(receiver.url, *broker), store_url)
    cid = conversation_id(heard)
    outbound_id = queue_reply(heard, cid)
    heard.queue.drain()
    [got] = receiver.wait_for(1)
    assert receiver.attempts == 3
    body = got.json
    assert body["text"] == "We are on it."
    assert body["conversation_id"] == cid and body["thread_id"] == "t-1"
    assert body["recipient_id"] == "cust-1" and body["kind"] == "message"
    assert got.headers["Idempotency-Key"] == body["idempotency_key"]
    with heard.sessions() as session:
        row = session.get(Outbound, outbound_id)
        assert row is not None
        assert (row.status, row.attempts, row.external_id) == ("sent", 3, "gw-1")
        message = session.get(Message, row.message_id)
        assert message is not None and message.delivery_status == "sent"
        assert message.external_id == "gw-1"
        conversation = session.get(Conversation, cid)
        assert conversation is not None and conversation.first_response_at is not None
    # Delivering the same row again sends nothing more.
    assert deliver(heard, outbound_id) == "skipped"
    assert len(receiver.received) == 1


def test_the_signature_of_outbound_calls_verifies(make_heard, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    from connectors.webhook import sign

    heard = make_heard(config(receiver.url))
    queue_reply(heard, conversation_id(heard))
    heard.queue.drain()
    [got] = receiver.wait_for(1)
    assert got.headers["X-Heard-Signature"] == sign("test-secret", got.body)


def test_concurrent_deliveries_of_one_row_send_it_once(
    make_heard, store_url: str, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    heard = make_heard(config(receiver.url), store_url)
    cid = conversation_id(heard)
    with heard.sessions() as session, session.begin():  # queued without asking for a job
        conversation = session.get(Conversation, cid)
        outbound_id = reply(session, conversation, "once", "ann").id  # type: ignore[arg-type]
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def run() -> None:
        barrier.wait()
        outcomes.append(deliver(heard, outbound_id))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["sent"] + ["skipped"] * 5
    assert len(receiver.received) == 1


def test_permanent_rejection_fails_visibly_without_retrying(make_heard, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.fail_first, receiver.fail_status = 100, 400
    heard = make_heard(config(receiver.url))
    outbound_id = queue_reply(heard, conversation_id(heard))
    heard.queue.drain()
    assert receiver.attempts == 1
    with heard.sessions() as session:
        row = session.get(Outbound, outbound_id)
        assert row is not None and row.status == "failed"
        assert "400" in (row.last_error or "")
        assert session.get(Message, row.message_id).delivery_status == "failed"  # type: ignore[union-attr]
        events = session.scalars(
            select(Event.type).where(Event.conversation_id == row.conversation_id)
        ).all()
        assert "delivery_failed" in events


def test_rate_limit_waits_for_the_window_the_peer_asked_for(make_heard, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.fail_first, receiver.fail_status, receiver.retry_after = 1, 429, "120"
    heard = make_heard(config(receiver.url))
    outbound_id = queue_reply(heard, conversation_id(heard))
    started = utcnow()
    # The retry is two minutes away: check the row instead of waiting for it.
    deadline = started + timedelta(seconds=20)
    while utcnow() < deadline:
        with heard.sessions() as session:
            row = session.get(Outbound, outbound_id)
            assert row is not None
            if row.last_error:
                break
        time.sleep(0.02)
    assert row.status == "pending" and row.attempts == 0
    assert "rate-limit window" in (row.last_error or "")
    wait = (row.next_attempt_at - started).total_seconds()
    assert 115 <= wait <= 125
    with heard.sessions() as session:
        assert session.get(Message, row.message_id).delivery_status == "waiting"  # type: ignore[union-attr]


def test_notes_are_stored_but_never_sent(make_heard, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    heard = make_heard(config(receiver.url))
    cid = conversation_id(heard)
    with heard.sessions() as session, session.begin():
        conversation = session.get(Conversation, cid)
        assert (
            queue_outbound(
                session, conversation, text="internal", kind=MessageKind.NOTE, author="ann"
            )
            is None
        )  # type: ignore[arg-type]
    heard.queue.drain()
    assert receiver.attempts == 0
    with heard.sessions() as session:
        notes = session.scalars(select(Message).where(Message.kind == "note")).all()
        assert [n.text for n in notes] == ["internal"]


def test_automatic_messages_are_capped_per_recipient_per_hour(
    make_heard, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    heard = make_heard(config(receiver.url))
    queued = []
    for n in range(5):
        cid = conversation_id(heard, f"m{n}", f"t{n}")
        with heard.sessions() as session, session.begin():
            conversation = session.get(Conversation, cid)
            queued.append(
                queue_outbound(
                    session, conversation, text="ack", kind=MessageKind.ACK, auto_reply_cap=3
                )
            )  # type: ignore[arg-type]
    assert [q is not None for q in queued] == [True, True, True, False, False]
    with heard.sessions() as session:
        reasons = session.scalars(
            select(Event.data).where(Event.type == "auto_reply_suppressed")
        ).all()
        assert len(reasons) == 2 and all("rate limit" in r["reason"] for r in reasons)


def test_machines_get_no_automatic_message(make_heard, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    heard = make_heard(config(receiver.url))
    [r] = store_messages(heard, [inbound("bounce", sender_kind=SenderKind.BOUNCE)])
    with heard.sessions() as session, session.begin():
        conversation = session.get(Conversation, r.conversation_id)
        assert queue_outbound(session, conversation, text="ack", kind=MessageKind.ACK) is None  # type: ignore[arg-type]
        # An agent may still answer by hand.
        assert (
            queue_outbound(session, conversation, text="hi", kind=MessageKind.MESSAGE) is not None
        )  # type: ignore[arg-type]


def test_sweep_finds_work_a_crash_left_behind(
    make_heard, store_url: str, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    heard = make_heard(config(receiver.url), store_url)
    cid = conversation_id(heard)
    with heard.sessions() as session, session.begin():
        conversation = session.get(Conversation, cid)
        fresh = reply(session, conversation, "never enqueued", "ann").id  # type: ignore[arg-type]
        stale = reply(session, conversation, "worker died mid-send", "ann").id  # type: ignore[arg-type]
        row = session.get(Outbound, stale)
        assert row is not None
        row.status, row.next_attempt_at = "sending", utcnow() - timedelta(seconds=1)
    report = sweep(heard)
    assert report["stale_sends"] == 1 and report["deliveries"] == 2
    heard.queue.drain()
    texts = sorted(r.json["text"] for r in receiver.wait_for(2))
    assert texts == ["never enqueued", "worker died mid-send"]
    with heard.sessions() as session:
        assert {session.get(Outbound, i).status for i in (fresh, stale)} == {"sent"}  # type: ignore[union-attr]


def test_pending_route_jobs_are_enqueued_again_by_the_sweep(make_heard, store_url: str) -> None:  # type: ignore[no-untyped-def]
    heard = make_heard(store_url=store_url, queue=False)
    [r] = store_messages(
        heard, [inbound("lonely")]
    )  # no queue: the route job only sits in the store
    from inbox.queue import start_queue

    start_queue(heard)
    assert sweep(heard)["routes"] == 1
    heard.queue.drain()
    with heard.sessions() as session:
        conversation = session.get(Conversation, r.conversation_id)
        assert conversation is not None and conversation.routed_at is not None
    assert sweep(heard)["routes"] == 0

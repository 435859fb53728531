"""Through the real queue: a webhook message is routed and its ack reaches the channel once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import Conversation, utcnow
from tests.conftest import BASE_CONFIG, MakeHeard
from tests.inbox.helpers import inbound
from tests.inbox.routekit import TEAM_CONFIG, arrive, conversation, events, outbound, route
from tests.servers.http_receiver import Receiver


def test_ack_is_delivered_once_on_the_conversations_channel(
    make_heard: MakeHeard, store_url: str, receiver: Receiver
) -> None:
    config = TEAM_CONFIG.replace("http://127.0.0.1:9/unused", receiver.url)
    heard = make_heard(config, store_url=store_url)
    [result] = store_messages(
        heard, [inbound("m1", text="My parcel never arrived, please help", name="Jo")]
    )
    store_messages(heard, [inbound("m2", text="Any news on my parcel? Still missing")])
    heard.queue.drain()
    [got] = receiver.wait_for(1)
    assert got.json["kind"] == "ack" and got.json["text"].startswith(
        "Hi Jo, we have your message (R-"
    )
    assert len(receiver.received) == 1
    assert conversation(heard, result.conversation_id).assignee == "ann"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

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
        self.calls.append((owner, kind, reason))


def test_the_notifier_is_pluggable(make_heard: MakeHeard) -> None:
    heard = make_heard(TEAM_CONFIG, queue=False)
    recorder = Recorder()
    heard.notifier = recorder  # type: ignore[attr-defined]
    route(heard, arrive(heard, "m1", "My parcel never arrived, please help"))
    route(heard, arrive(heard, "m2", "please forward to the desk team", handle="other"))
    assert recorder.calls == [("ann", "agent", "assigned"), ("desk", "team", "queued")]


EMAIL_CHANNEL = """
[[channels]]
type = "email"
name = "mail"
address = "support@shop.example"
"""


def test_default_notifier_emails_the_owner_when_there_is_an_email_channel(
    make_heard: MakeHeard,
) -> None:
    heard = make_heard(TEAM_CONFIG + EMAIL_CHANNEL, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived, please help")
    route(heard, cid)
    (notified,) = events(heard, cid, "owner_notified")
    assert notified.data == {"owner": "ann", "kind": "agent", "reason": "assigned", "via": "email"}


def test_no_email_channel_means_no_notification_but_an_event(make_heard: MakeHeard) -> None:
    heard = make_heard(TEAM_CONFIG, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived, please help")
    route(heard, cid)
    (event,) = events(heard, cid, "owner_not_notified")
    assert event.data["via"] is None and outbound(heard, cid, "note") == []


def test_unconfigured_heard_acknowledges_nothing(make_heard: MakeHeard) -> None:
    heard = make_heard(BASE_CONFIG, queue=False)
    cid = arrive(heard, "m1", "hello")
    route(heard, cid)
    assert outbound(heard, cid) == []
    assert [e.type for e in events(heard, cid)] == ["conversation_created", "routed"]


def test_a_batch_routes_each_conversation_once_even_when_delivered_twice(
    make_heard: MakeHeard, store_url: str
) -> None:
    from inbox.tasks import route_many

    heard = make_heard(TEAM_CONFIG, store_url=store_url, queue=False)
    ids = [
        arrive(heard, f"b{i}", f"My parcel number {i} never arrived, please help", handle=f"c{i}")
        for i in range(3)
    ]
    route_many(heard, ids)
    route_many(heard, [*ids, 999_999])  # again, plus a conversation that does not exist
    for cid in ids:
        assert len(events(heard, cid, "rules_defaulted") + events(heard, cid, "rules_matched")) == 1
        assert [kind for kind, _ in outbound(heard, cid)] == ["ack"]
        assert conversation(heard, cid).assignee in ("ann", "boris")
    assert arrive(heard, "b0-again", "Any news on my parcel?", handle="c0") == ids[0]
    route_many(heard, ids)  # only the conversation with a new message is routed again
    assert len(events(heard, ids[0], "rules_defaulted")) == 2
    assert len(events(heard, ids[1], "rules_defaulted")) == 1


def test_without_rules_a_batch_is_marked_routed_once(make_heard: MakeHeard, store_url: str) -> None:
    from inbox.tasks import route_many

    heard = make_heard(BASE_CONFIG, store_url=store_url, queue=False)
    ids = [arrive(heard, f"u{i}", "hello there", handle=f"u{i}") for i in range(3)]
    route_many(heard, ids)
    route_many(heard, ids)
    for cid in ids:
        assert [e.type for e in events(heard, cid)] == ["conversation_created", "routed"]
        assert events(heard, cid, "routed")[0].data == {"why": "no rules configured"}
        assert conversation(heard, cid).routed_at is not None and outbound(heard, cid) == []


def test_without_rules_history_is_still_filed_resolved(
    make_heard: MakeHeard, store_url: str
) -> None:
    from inbox.tasks import route_many

    heard = make_heard(BASE_CONFIG, store_url=store_url, queue=False)
    old = arrive(heard, "h1", "hello", handle="h1", received_at=utcnow() - timedelta(days=30))
    new = arrive(heard, "h2", "hello", handle="h2")
    route_many(heard, [old, new])
    assert [e.type for e in events(heard, old)] == ["conversation_created", "archived"]
    assert conversation(heard, old).status == "resolved"
    assert conversation(heard, new).status == "open"

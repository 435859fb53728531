"""Ingest stores each message exactly once and files it in the right conversation."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from inbox.app import Heard
from inbox.ingest import ingest, store_batch, store_messages
from inbox.models import Attachment, Contact, Conversation, Event, Identity, Job, Message
from inbox.types import AttachmentIn, Batch, Sender, SenderKind
from tests.inbox.helpers import inbound


def count(heard: Heard, model: type) -> int:
    with heard.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_first_message_creates_contact_identity_conversation_and_route_job(heard: Heard) -> None:
    [result] = store_messages(heard, [inbound("m1", text="Where is my order?", name="Ann")])
    assert result.created and result.new_conversation
    with heard.sessions() as session:
        conversation = session.get(Conversation, result.conversation_id)
        assert conversation is not None
        assert conversation.reference == f"R-{1000 + conversation.id}"
        assert conversation.status == "open"
        assert conversation.preview == "Where is my order?"
        assert conversation.thread["recipient"] == "cust-1"
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None and contact.name == "Ann"
        assert [(i.channel, i.handle) for i in contact.identities] == [("webhook", "cust-1")]
        jobs = session.scalars(select(Job).where(Job.ref_id == conversation.id)).all()
        assert [j.actor for j in jobs] == ["route"]


def test_duplicate_delivery_stores_nothing_twice(heard: Heard) -> None:
    first = store_messages(heard, [inbound("m1")])
    again = store_messages(heard, [inbound("m1"), inbound("m1")])
    assert first[0].created
    assert [r.created for r in again] == [False, False]
    assert {r.message_id for r in again} == {first[0].message_id}
    assert count(heard, Message) == 1
    assert count(heard, Conversation) == 1
    assert count(heard, Contact) == 1


def test_same_external_id_on_another_account_is_another_message(heard: Heard) -> None:
    store_messages(heard, [inbound("m1"), inbound("m1", account="sms")])
    assert count(heard, Message) == 2


def test_thread_keys_join_the_existing_conversation(heard: Heard) -> None:
    [a] = store_messages(heard, [inbound("<a@x>", keys=("<a@x>",))])
    [b] = store_messages(heard, [inbound("<b@x>", keys=("<b@x>", "<a@x>"))])
    [c] = store_messages(heard, [inbound("<c@x>", keys=("<c@x>", "<zzz@x>", "<b@x>"))])
    [d] = store_messages(heard, [inbound("<d@x>", keys=("<d@x>",))])
    assert a.conversation_id == b.conversation_id == c.conversation_id
    assert d.conversation_id != a.conversation_id and d.new_conversation


def test_reference_tag_joins_the_conversation(heard: Heard) -> None:
    [a] = store_messages(heard, [inbound("1", keys=("t1",))])
    with heard.sessions() as session:
        reference = session.get(Conversation, a.conversation_id).reference  # type: ignore[union-attr]
    [b] = store_messages(heard, [inbound("2", keys=("unrelated",), reference=reference.lower())])
    assert b.conversation_id == a.conversation_id


def test_customer_writing_again_reopens_a_resolved_conversation(heard: Heard) -> None:
    [a] = store_messages(heard, [inbound("1")])
    with heard.sessions() as session, session.begin():
        conversation = session.get(Conversation, a.conversation_id)
        assert conversation is not None
        conversation.status = "resolved"
        conversation.ack_sent_at = conversation.created_at
    [b] = store_messages(heard, [inbound("2")])
    assert b.conversation_id == a.conversation_id and b.reopened
    with heard.sessions() as session:
        conversation = session.get(Conversation, a.conversation_id)
        assert conversation is not None
        assert conversation.status == "open"
        assert conversation.ack_sent_at is None  # acknowledged again after a reopen
        types = session.scalars(
            select(Event.type).where(Event.conversation_id == a.conversation_id)
        ).all()
        assert "reopened" in types


def test_customer_answer_resumes_a_pending_conversation(heard: Heard) -> None:
    [a] = store_messages(heard, [inbound("1")])
    with heard.sessions() as session, session.begin():
        session.get(Conversation, a.conversation_id).status = "pending"  # type: ignore[union-attr]
    store_messages(heard, [inbound("2")])
    with heard.sessions() as session:
        assert session.get(Conversation, a.conversation_id).status == "open"  # type: ignore[union-attr]


def test_machine_mail_does_not_reopen_and_is_marked(heard: Heard) -> None:
    [a] = store_messages(heard, [inbound("1")])
    with heard.sessions() as session, session.begin():
        session.get(Conversation, a.conversation_id).status = "resolved"  # type: ignore[union-attr]
    [b] = store_messages(
        heard,
        [
            inbound(
                "2",
                sender_kind=SenderKind.AUTO_REPLY,
                no_auto_reply_reason="Auto-Submitted: auto-replied",
            )
        ],
    )
    assert b.created and not b.reopened
    with heard.sessions() as session:
        conversation = session.get(Conversation, a.conversation_id)
        assert conversation is not None and conversation.status == "resolved"
        assert conversation.no_auto_reply_reason == "Auto-Submitted: auto-replied"
        message = session.get(Message, b.message_id)
        assert message is not None and message.sender_kind == "auto_reply"


def test_edit_updates_the_stored_message_and_keeps_the_original(heard: Heard) -> None:
    [a] = store_messages(heard, [inbound("7", text="helo")])
    [b] = store_messages(heard, [inbound("edit-7-1", text="hello", edit_of="7")])
    assert b.message_id == a.message_id and not b.created
    with heard.sessions() as session:
        message = session.get(Message, a.message_id)
        assert message is not None
        assert (message.text, message.original_text) == ("hello", "helo")
        assert message.edited_at is not None


def test_attachments_are_stored_inline_on_disk_or_recorded_as_skipped(heard: Heard) -> None:
    big = b"x" * (heard.settings.store.inline_attachment_max + 1)
    msg = inbound(
        "a1",
        attachments=(
            AttachmentIn("small.txt", "text/plain", 5, b"hello"),
            AttachmentIn("big.bin", "application/octet-stream", len(big), big),
            AttachmentIn(
                "huge.iso",
                "application/octet-stream",
                10**10,
                None,
                skipped_reason="over the size limit",
            ),
        ),
    )
    [result] = store_messages(heard, [msg])
    with heard.sessions() as session:
        rows = session.scalars(
            select(Attachment)
            .where(Attachment.message_id == result.message_id)
            .order_by(Attachment.id)
        ).all()
        assert [(r.filename, r.storage) for r in rows] == [
            ("small.txt", "db"),
            ("big.bin", "disk"),
            ("huge.iso", "skipped"),
        ]
        assert rows[0].data == b"hello"
        assert (heard.attachments_dir / rows[1].path).read_bytes() == big  # type: ignore[operator]
        assert rows[2].skipped_reason == "over the size limit" and rows[2].size == 10**10


def test_raw_payload_is_kept_for_audit(heard: Heard) -> None:
    [r] = store_messages(heard, [inbound("raw1", raw=b"\xff\xfeoriginal bytes")])
    with heard.sessions() as session:
        assert session.get(Message, r.message_id).raw == b"\xff\xfeoriginal bytes"  # type: ignore[union-attr]


def test_verified_email_links_a_new_handle_to_the_same_contact(heard: Heard) -> None:
    store_messages(
        heard,
        [inbound("e1", channel="email", account="mail", handle="ann@example.com", keys=("e1",))],
    )
    msg = inbound("t1", channel="telegram", account="bot", handle="4242")
    verified = msg.__class__(
        **{
            **{f: getattr(msg, f) for f in msg.__dataclass_fields__},
            "sender": Sender("4242", "Ann", "ann@example.com", True),
        }
    )
    unverified = inbound(
        "t2", channel="telegram", account="bot", handle="4343", email="ann@example.com"
    )
    store_messages(heard, [verified, unverified])
    with heard.sessions() as session:
        owners = dict(session.execute(select(Identity.handle, Identity.contact_id)).all())
    assert owners["4242"] == owners["ann@example.com"]
    assert owners["4343"] != owners["ann@example.com"]


@pytest.mark.postgres
def test_concurrent_ingest_of_one_message_stores_one_row(make_heard, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import truncate_all

    truncate_all(pg_url)
    heard = make_heard(store_url=pg_url, queue=False)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            store_messages(heard, [inbound("same-id", keys=("thread-x",), handle="racer")])
        except BaseException as exc:
            errors.append(exc)

    for _round in range(5):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        barrier.reset()
    assert errors == []
    assert count(heard, Message) == 1
    assert count(heard, Conversation) == 1
    assert count(heard, Contact) == 1
    assert count(heard, Identity) == 1


@pytest.mark.postgres
def test_concurrent_messages_of_one_new_thread_share_one_conversation(
    make_heard, pg_url: str
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import truncate_all

    truncate_all(pg_url)
    heard = make_heard(store_url=pg_url, queue=False)
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        store_messages(
            heard, [inbound(f"msg-{n}", keys=(f"msg-{n}", "shared-thread"), handle="same")]
        )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(heard, Message) == 6
    assert count(heard, Conversation) == 1


@pytest.mark.postgres
def test_concurrent_batches_of_the_same_new_senders_make_one_contact_each(
    make_heard, pg_url: str
) -> None:  # type: ignore[no-untyped-def]
    """Batches create their new senders in bulk; a sender another batch registered first is
    looked up instead, and the contact we made for it is removed again."""
    from tests.conftest import truncate_all

    truncate_all(pg_url)
    heard = make_heard(store_url=pg_url, queue=False)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            batch = [
                inbound(f"w{n}-m{i}", keys=(f"w{n}-t{i}",), handle=f"new-{i}") for i in range(10)
            ]
            store_batch(heard, f"acct-{n}", Batch(batch, None))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(heard, Message) == 60
    assert count(heard, Identity) == 10
    assert count(heard, Contact) == 10  # no orphans left by the batches that lost
    with heard.sessions() as session:
        owners = session.execute(
            select(Message.sender_handle, Conversation.contact_id).join(
                Conversation, Conversation.id == Message.conversation_id
            )
        ).all()
        identity = dict(session.execute(select(Identity.handle, Identity.contact_id)).all())
    assert all(identity[handle] == contact for handle, contact in owners)


def test_ingest_inside_a_rolled_back_transaction_leaves_nothing(heard: Heard) -> None:
    with heard.sessions() as session, pytest.raises(RuntimeError), session.begin():
        ingest(session, inbound("gone"))
        raise RuntimeError("crash before commit")
    assert count(heard, Message) == 0
    assert count(heard, Conversation) == 0

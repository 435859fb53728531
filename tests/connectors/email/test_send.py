"""Mail we send, end to end: Dovecot in, `heard sync`, the outbox, aiosmtpd out.

What aiosmtpd captured is parsed back with the stdlib, as a customer's client would read it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from inbox.actions import reply
from inbox.app import Heard
from inbox.models import Conversation, Event, Message, Outbound
from inbox.outbox import flush_enqueues, queue_outbound
from inbox.sync import sync_once
from inbox.types import MessageKind
from tests.connectors.email.conftest import EmailHeard
from tests.connectors.email.fixtures import ADDRESS, Mailbox
from tests.connectors.email.mails import mail, message_id_of
from tests.servers.smtp import SmtpCapture

pytestmark = [pytest.mark.imap, pytest.mark.smtp]


def inbound(heard: Heard) -> list[Message]:
    with heard.sessions() as session:
        return list(
            session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))
        )


def conversation(heard: Heard, cid: int) -> Conversation:
    with heard.sessions() as session:
        found = session.get(Conversation, cid)
        assert found is not None
        session.expunge(found)
        return found


def events(heard: Heard, cid: int, kind: str) -> list[Event]:
    with heard.sessions() as session:
        return list(
            session.scalars(select(Event).where(Event.conversation_id == cid, Event.type == kind))
        )


def body_text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_a_customer_gets_one_acknowledgement_that_threads_in_their_client(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture, store_url: str
) -> None:
    heard = email_heard(store_url)
    raw = mail(subject="Résumé of my order", references="<older@customer.example>")
    mailbox.deliver(raw)
    sync_once(heard)
    [sent] = smtp.wait_for(1)
    [msg_in] = inbound(heard)
    conv = conversation(heard, msg_in.conversation_id)
    ack = sent.message
    assert sent.sender == ADDRESS and sent.recipients == ["ada@customer.example"]
    assert ack["From"] == f"Example Support <{ADDRESS}>"
    assert ack["To"] == "Ada Customer <ada@customer.example>"
    assert ack["Subject"] == f"Re: Résumé of my order [#{conv.reference}]"
    assert ack["In-Reply-To"] == message_id_of(raw)
    assert ack["References"].split() == ["<older@customer.example>", message_id_of(raw)]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert ack.get_content_type() == "multipart/alternative"
    plain, html = body_text(ack, "plain"), body_text(ack, "html")
    assert plain.strip() and "<p>" in html
    assert all(p.get_content_charset() == "utf-8" for p in ack.walk() if not p.is_multipart())
    with heard.sessions() as session:
        out = session.scalars(select(Message).where(Message.direction == "out")).one()
        assert (out.kind, out.delivery_status, out.external_id) == (
            "ack",
            "sent",
            ack["Message-ID"],
        )
    # A copy lands in the Sent folder.
    assert mailbox.count(f"{mailbox.folder}-sent") == 1


def test_the_acknowledgement_goes_to_reply_to_when_there_is_one(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    mailbox.deliver(mail(headers={"Reply-To": "Orders Desk <orders@customer.example>"}))
    sync_once(heard)
    [sent] = smtp.wait_for(1)
    assert sent.recipients == ["orders@customer.example"]
    assert sent.message["To"] == "Orders Desk <orders@customer.example>"


MACHINES = {
    "auto-replied": ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
    "auto-generated": ({"Auto-Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
    "suppress all": ({"X-Auto-Response-Suppress": "All"}, "X-Auto-Response-Suppress: All"),
    "suppress oof": ({"X-Auto-Response-Suppress": "DR, OOF"}, "X-Auto-Response-Suppress: DR, OOF"),
    "suppress autoreply": (
        {"X-Auto-Response-Suppress": "AutoReply"},
        "X-Auto-Response-Suppress: AutoReply",
    ),
    "precedence bulk": ({"Precedence": "bulk"}, "Precedence: bulk"),
    "precedence junk": ({"Precedence": "junk"}, "Precedence: junk"),
    "precedence list": ({"Precedence": "list"}, "Precedence: list"),
    "list-id": ({"List-Id": "<news.shop.example>"}, "mailing list or bulk mail (List-Id)"),
    "list-unsubscribe": (
        {"List-Unsubscribe": "<mailto:leave@shop.example>"},
        "mailing list or bulk mail (List-Unsubscribe)",
    ),
    "empty return-path": ({"Return-Path": "<>"}, "empty Return-Path"),
    "mailer-daemon": ({"From": "MAILER-DAEMON@mx.example"}, "sent by mailer-daemon"),
    "postmaster": ({"From": "postmaster@mx.example"}, "sent by postmaster"),
    "no-reply": ({"From": "Shop <no-reply@shop.example>"}, "no-reply sender (no-reply)"),
    "noreply": ({"From": "noreply@shop.example"}, "no-reply sender (noreply)"),
    "own address": ({"From": f"Support <{ADDRESS}>"}, "sent from our own address"),
    "own alias": ({"From": "help@example.com"}, "sent from our own address"),
}


def machine_mail(name: str, headers: dict[str, str]) -> bytes:
    headers = dict(headers)
    sender = headers.pop("From", f"robot-{name.replace(' ', '-')}@robots.example")
    return mail(sender=sender, subject=f"machine: {name}", headers=headers)


def delivery_report() -> bytes:
    return (
        b"From: Mail System <bounces@mx.example>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: report\r\n"
        b"Message-ID: <dsn-1@mx.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nYour mail could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
    )


def test_no_machine_is_ever_acknowledged_but_every_machine_mail_is_kept_with_the_reason(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    raws = [machine_mail(name, headers) for name, (headers, _) in MACHINES.items()]
    human = mail(
        sender="Bea <bea@customer.example>", subject="a person", headers={"Auto-Submitted": "no"}
    )
    mailbox.deliver(*raws, delivery_report(), human)
    assert sync_once(heard).stored == {"support": len(MACHINES) + 2}
    reasons = {m.subject: m.no_auto_reply_reason for m in inbound(heard)}
    expected: dict[str, str | None] = {
        f"machine: {name}": reason for name, (_, reason) in MACHINES.items()
    }
    expected["report"] = "delivery status report (multipart/report)"
    expected["a person"] = None
    assert reasons == expected
    # Exactly one mail went out: the acknowledgement to the person.
    assert [s.recipients for s in smtp.wait_for(1)] == [["bea@customer.example"]]
    with heard.sessions() as session, session.begin():
        machine_conversations = session.scalars(
            select(Conversation).where(Conversation.no_auto_reply_reason.is_not(None))
        ).all()
        assert len(machine_conversations) == len(MACHINES) + 1
        # The outbox itself refuses an automatic message to any of them.
        for conv in machine_conversations:
            assert queue_outbound(session, conv, text="hi", kind=MessageKind.ACK) is None
            assert queue_outbound(session, conv, text="hi", kind=MessageKind.UPDATE) is None
    assert len(smtp.messages) == 1


def test_a_first_import_files_old_mail_without_acknowledging_it(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    old = mail(sender="Old <old@customer.example>", subject="last spring")
    mailbox.deliver(old, received=datetime.now(UTC) - timedelta(days=200))
    mailbox.deliver(mail(sender="New <new@customer.example>", subject="this week"))
    assert sync_once(heard).stored == {"support": 2}
    # Only the customer who is still waiting hears from us.
    assert [s.recipients for s in smtp.wait_for(1)] == [["new@customer.example"]]
    by_subject = {m.subject: m for m in inbound(heard)}
    archived = conversation(heard, by_subject["last spring"].conversation_id)
    assert archived.status == "resolved" and archived.ack_sent_at is None
    assert events(heard, archived.id, "archived")
    assert conversation(heard, by_subject["this week"].conversation_id).status == "open"
    assert len(smtp.messages) == 1


def test_at_most_three_automatic_mails_an_hour_reach_one_address(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    mailbox.deliver(*(mail(subject=f"new question {i}") for i in range(5)))
    sync_once(heard)
    assert len(smtp.messages) == 3
    assert all(s.message["Auto-Submitted"] == "auto-replied" for s in smtp.messages)
    with heard.sessions() as session:
        refused = session.scalars(select(Event).where(Event.type == "auto_reply_suppressed")).all()
        assert len(refused) == 2
        assert all("rate limit" in e.data["reason"] for e in refused)


def test_threading_by_in_reply_to_references_reference_tag_and_reply_to_our_ack(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    first = mail(subject="Broken kettle")
    mailbox.deliver(first)
    sync_once(heard)
    [ack] = smtp.wait_for(1)
    [start] = inbound(heard)
    reference = conversation(heard, start.conversation_id).reference
    follow_ups = [
        mail(subject="Re: Broken kettle", in_reply_to=message_id_of(first)),
        mail(subject="more", references=f"<unknown@x.example> {message_id_of(first)}"),
        mail(subject=f"Photos [#{reference}]"),
        mail(subject="Re: ack", in_reply_to=ack.message["Message-ID"]),
    ]
    unrelated = mail(subject="Different matter")
    mailbox.deliver(*follow_ups, unrelated)
    sync_once(heard)
    stored = {m.subject: m.conversation_id for m in inbound(heard)}
    assert stored == {
        "Broken kettle": start.conversation_id,
        "Re: Broken kettle": start.conversation_id,
        "more": start.conversation_id,
        f"Photos [#{reference}]": start.conversation_id,
        "Re: ack": start.conversation_id,
        "Different matter": stored["Different matter"],
    }
    assert stored["Different matter"] != start.conversation_id
    # One acknowledgement per conversation: the first and the unrelated one.
    assert len(smtp.messages) == 2


def test_a_bounce_of_our_acknowledgement_joins_the_conversation_and_flags_the_send(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    mailbox.deliver(mail(sender="typo@customer.example"))
    sync_once(heard)
    [ack] = smtp.wait_for(1)
    bounce = (
        b"Return-Path: <>\r\n"
        b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-1@mx.customer.example>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="X"\r\n\r\n'
        b"--X\r\nContent-Type: text/plain\r\n\r\n<typo@customer.example>: user unknown\r\n"
        b"--X\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; typo@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--X\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        + f"From: {ack.message['From']}\r\nMessage-ID: {ack.message['Message-ID']}\r\n".encode()
        + b"Subject: whatever\r\n\r\n--X--\r\n"
    )
    mailbox.deliver(bounce)
    sync_once(heard)
    original, bounced = inbound(heard)
    assert bounced.conversation_id == original.conversation_id
    assert (
        bounced.sender_kind == "bounce" and bounced.extras["bounce_of"] == ack.message["Message-ID"]
    )
    with heard.sessions() as session:
        out = session.scalars(select(Outbound)).one()
        sent = session.get(Message, out.message_id)
        assert out.status == "failed" and sent is not None and sent.delivery_status == "bounced"
    assert len(events(heard, original.conversation_id, "delivery_failed")) == 1
    assert len(smtp.messages) == 1  # nothing went to the mailer-daemon


def agent_reply(heard: Heard, cid: int, text: str) -> int:
    with heard.sessions() as session:
        with session.begin():
            conv = session.get(Conversation, cid)
            assert conv is not None
            outbound_id = reply(session, conv, text, "ann").id
        flush_enqueues(session, heard)
    heard.queue.drain()
    return outbound_id


def test_an_agent_reply_is_normal_mail_in_the_thread(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    heard = email_heard()
    first = mail(subject="Invoice question")
    mailbox.deliver(first)
    sync_once(heard)
    [start] = inbound(heard)
    second = mail(subject="Re: Invoice question", in_reply_to=message_id_of(first))
    mailbox.deliver(second)
    sync_once(heard)
    smtp.clear()
    agent_reply(heard, start.conversation_id, "Hi Ada,\n\nthe invoice is attached — Ünïcödé ok.")
    [sent] = smtp.wait_for(1)
    msg = sent.message
    reference = conversation(heard, start.conversation_id).reference
    assert msg["Auto-Submitted"] is None and msg["X-Auto-Response-Suppress"] is None
    assert msg["Subject"] == f"Re: Invoice question [#{reference}]"
    assert msg["In-Reply-To"] == message_id_of(second)
    assert message_id_of(first) in msg["References"].split()
    assert "Ünïcödé" in body_text(msg, "plain") and "Ünïcödé" in body_text(msg, "html")


def test_a_refused_recipient_fails_the_send_visibly(
    email_heard: EmailHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    smtp.refuse("gone@customer.example")
    heard = email_heard()
    mailbox.deliver(mail(sender="gone@customer.example"))
    sync_once(heard)
    with heard.sessions() as session:
        out = session.scalars(select(Outbound)).one()
        assert out.status == "failed" and "recipient refused" in (out.last_error or "")
        msg = session.get(Message, out.message_id)
        assert msg is not None and msg.delivery_status == "failed"
    assert smtp.messages == []

"""Receiving mail from a real Dovecot through `heard sync` into the store."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.email.backlog import BacklogReader
from connectors.email.connector import EmailConnector
from inbox.app import Heard
from inbox.ingest import load_cursor
from inbox.models import Attachment, ChannelCursor, Conversation, Message
from inbox.sync import sync_once
from tests.conftest import MakeHeard, RunCli
from tests.connectors.email.conftest import EmailHeard
from tests.connectors.email.fixtures import Mailbox, email_toml
from tests.connectors.email.mails import mail, message_id_of
from tests.servers.smtp import SmtpCapture
from tests.servers.tcp_cut import CuttingProxy

pytestmark = pytest.mark.imap


def stored(heard: Heard) -> list[Message]:
    with heard.sessions() as session:
        return list(
            session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))
        )


def cursor(heard: Heard) -> dict[str, int]:
    with heard.sessions() as session:
        value = load_cursor(session, "support")
    assert value is not None
    return dict(json.loads(value))


def test_sync_stores_mail_with_text_subject_sender_and_marks_it_seen(
    email_heard: EmailHeard, mailbox: Mailbox, store_url: str
) -> None:
    heard = email_heard(store_url)
    raw = mail(subject="Wo ist meine Bestellung? ✓", text="Hallo,\nmeine Bestellung fehlt.\n")
    mailbox.deliver(raw)
    report = sync_once(heard)
    assert report.ok and report.stored == {"support": 1}
    [msg] = stored(heard)
    assert msg.external_id == message_id_of(raw)
    assert msg.sender_handle == "ada@customer.example" and msg.sender_name == "Ada Customer"
    assert msg.subject == "Wo ist meine Bestellung? ✓"
    assert msg.text == "Hallo,\nmeine Bestellung fehlt."
    assert msg.raw == raw and msg.sender_kind == "human" and msg.no_auto_reply_reason is None
    with heard.sessions() as session:
        conversation = session.get(Conversation, msg.conversation_id)
        assert conversation is not None
        assert conversation.thread["recipient"] == "ada@customer.example"
        assert conversation.thread["last_message_id"] == msg.external_id
    assert all(b"\\Seen" in flags for flags in mailbox.flags().values())
    # Customer mail is never deleted.
    assert mailbox.count() == 1


def test_mark_seen_off_leaves_mail_unread(email_heard: EmailHeard, mailbox: Mailbox) -> None:
    heard = email_heard(extra="mark_seen = false")
    mailbox.deliver(mail())
    assert sync_once(heard).stored == {"support": 1}
    assert [b"\\Seen" in f for f in mailbox.flags().values()] == [False]


def test_sync_reads_a_backlog_in_batches_and_a_second_sync_stores_nothing(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard(extra="batch_size = 7")
    mailbox.deliver(*(mail(subject=f"question {i}") for i in range(25)))
    batches: list[int] = []
    report = sync_once(heard, progress=lambda name, n: batches.append(n))
    assert report.stored == {"support": 25}
    assert batches == [7, 7, 7, 4]
    assert sorted(m.subject for m in stored(heard)) == sorted(f"question {i}" for i in range(25))
    again = sync_once(heard)
    assert again.stored == {"support": 0} and len(stored(heard)) == 25


@pytest.mark.parametrize("processes", [1, 2])
def test_a_big_backlog_is_read_in_worker_processes_without_loss(
    email_heard: EmailHeard, mailbox: Mailbox, caplog: pytest.LogCaptureFixture, processes: int
) -> None:
    heard = email_heard(extra=f"batch_size = 100\nparse_processes = {processes}")
    mailbox.deliver(*(mail(subject=f"bulk {i}", text=f"body {i} ünïcode") for i in range(330)))
    assert sync_once(heard).stored == {"support": 330}
    # The first batch is read in place while the worker starts; the next two (the last, 30
    # mails, is too small to pay) come from the worker (INTERNALDATE's tzinfo once broke it).
    assert "in worker processes failed" not in caplog.text
    assert reader(heard).read_in_workers == 200
    got = stored(heard)
    assert sorted(m.subject for m in got) == sorted(f"bulk {i}" for i in range(330))
    assert {m.text for m in got} == {f"body {i} ünïcode" for i in range(330)}
    assert all(m.created_at.tzinfo is not None for m in got)
    assert [b"\\Seen" in f for f in mailbox.flags().values()] == [True] * 330


def test_a_killed_worker_process_falls_back_to_reading_in_place(
    email_heard: EmailHeard, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    heard = email_heard(extra="batch_size = 100\nparse_processes = 1")
    mailbox.deliver(*(mail(subject=f"first {i}") for i in range(100)))
    assert sync_once(heard).stored == {"support": 100}  # starts the worker process
    pool = reader(heard)._pool
    assert pool is not None
    for process in list(pool._processes.values()):  # as the OOM killer would
        os.kill(process.pid, signal.SIGKILL)
        process.join(10)
    mailbox.deliver(*(mail(subject=f"second {i}") for i in range(150)))
    assert sync_once(heard).stored == {"support": 150}
    assert "reading mail in worker processes failed" in caplog.text
    assert len(stored(heard)) == 250


def reader(heard: Heard) -> BacklogReader:
    connector = heard.connector("support")
    assert isinstance(connector, EmailConnector)
    return connector._reader


def test_the_same_mail_delivered_twice_is_stored_once(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard()
    raw = mail(to="support@example.com", headers={"Cc": "help@example.com"})
    mailbox.deliver(raw, raw)  # once for To, once for Cc
    report = sync_once(heard)
    assert report.stored == {"support": 1} and report.duplicates == {"support": 1}
    assert len(stored(heard)) == 1


def test_mail_without_message_id_gets_a_stable_id_and_is_not_duplicated_on_resync(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard()
    raw = mail(message_id=None, subject="no id")
    mailbox.deliver(raw)
    sync_once(heard)
    [first] = stored(heard)
    assert first.external_id.endswith("@synthetic.heard.invalid>")
    # Forget the cursor: the whole folder is read again, as after a restore.
    with heard.sessions() as session, session.begin():
        session.query(ChannelCursor).delete()
    mailbox.deliver(raw)  # and it is even delivered a second time
    report = sync_once(heard)
    assert report.stored == {"support": 0} and report.duplicates == {"support": 2}
    assert [m.external_id for m in stored(heard)] == [first.external_id]


def test_uidvalidity_change_rescans_without_duplicates(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard()
    mailbox.deliver(mail(subject="one"), mail(subject="two"))
    sync_once(heard)
    before = cursor(heard)
    assert before["last_uid"] == 2
    mailbox.server.set_uidvalidity(before["uidvalidity"] + 1000, mailbox.folder)
    mailbox.deliver(mail(subject="three"))
    report = sync_once(heard)
    assert report.stored == {"support": 1} and report.duplicates == {"support": 2}
    assert [m.subject for m in stored(heard)] == ["one", "two", "three"]
    after = cursor(heard)
    assert after == {"uidvalidity": before["uidvalidity"] + 1000, "last_uid": 3}


def test_a_connection_cut_in_the_middle_of_a_fetch_loses_and_duplicates_nothing(
    make_heard: MakeHeard,
    mailbox: Mailbox,
    smtp: SmtpCapture,
) -> None:
    proxy = CuttingProxy("127.0.0.1", mailbox.server.port).start()
    try:
        heard = make_heard(email_toml(mailbox, smtp, port=proxy.port, extra="batch_size = 10"))
        body = "Lorem ipsum dolor sit amet. " * 200  # about 6 kB a mail
        mailbox.deliver(*(mail(subject=f"long {i}", text=body) for i in range(30)))
        proxy.cut_after(100_000)  # the first batch arrives, the second is cut half-way
        first = sync_once(heard)
        assert "support" in first.errors and "TransientError" in first.errors["support"]
        assert proxy.cuts == 1
        partial = len(stored(heard))
        assert 0 < partial < 30
        assert cursor(heard)["last_uid"] == partial
        second = sync_once(heard)
        assert second.ok and second.stored == {"support": 30 - partial}
        subjects = [m.subject for m in stored(heard)]
        assert sorted(subjects) == sorted(f"long {i}" for i in range(30))
        assert len(set(subjects)) == 30
    finally:
        proxy.stop()


def test_a_worker_connection_cut_mid_fetch_loses_and_duplicates_nothing(
    make_heard: MakeHeard, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    proxy = CuttingProxy("127.0.0.1", mailbox.server.port).start()
    try:
        extra = "batch_size = 64\nparse_processes = 1"
        heard = make_heard(email_toml(mailbox, smtp, port=proxy.port, extra=extra))
        body = "Lorem ipsum dolor sit amet. " * 200  # about 6 kB a mail
        mailbox.deliver(*(mail(subject=f"bulk {i}", text=body) for i in range(200)))
        # The sync's own connection comes first; the worker's (second) is cut inside its batch.
        proxy.cut_after(100_000, skip=1)
        first = sync_once(heard)
        assert "TransientError" in first.errors["support"]
        assert proxy.cuts == 1 and len(stored(heard)) == 64
        assert cursor(heard)["last_uid"] == 64
        second = sync_once(heard)
        assert second.ok and second.stored == {"support": 136}
        assert reader(heard).read_in_workers > 0
        subjects = [m.subject for m in stored(heard)]
        assert sorted(subjects) == sorted(f"bulk {i}" for i in range(200))
    finally:
        proxy.stop()


def test_since_limits_the_first_import(email_heard: EmailHeard, mailbox: Mailbox) -> None:
    client = mailbox.server.client()
    try:
        from datetime import datetime

        old = datetime(2020, 1, 5, 12, 0, tzinfo=UTC)
        client.append(mailbox.folder, mail(subject="old"), msg_time=old)
        client.append(mailbox.folder, mail(subject="new"))
    finally:
        client.logout()
    heard = email_heard(extra="since = 2024-01-01")
    assert sync_once(heard).stored == {"support": 1}
    assert [m.subject for m in stored(heard)] == ["new"]


def test_attachments_are_stored_and_oversized_ones_recorded_as_skipped(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard(extra="max_attachment_size = 1000")
    mailbox.deliver(
        mail(
            attachments=[
                ("small.txt", "text/plain", b"tiny file"),
                ("Größe.bin", "application/octet-stream", b"\x00" * 5000),
            ]
        )
    )
    sync_once(heard)
    [msg] = stored(heard)
    with heard.sessions() as session:
        rows = session.scalars(
            select(Attachment).where(Attachment.message_id == msg.id).order_by(Attachment.id)
        ).all()
        got = [
            (a.filename, a.content_type, a.size, a.storage, a.skipped_reason is not None)
            for a in rows
        ]
        small_data = rows[0].data
    assert got == [
        ("small.txt", "text/plain", 9, "db", False),
        ("Größe.bin", "application/octet-stream", 5000, "skipped", True),
    ]
    assert small_data == b"tiny file"
    assert "attachment_skipped" in msg.flags


def test_a_wrong_password_is_reported_as_an_auth_error(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard(password='"wrong"')
    mailbox.deliver(mail())
    report = sync_once(heard)
    assert "AuthError" in report.errors["support"]
    assert stored(heard) == []


def test_password_from_the_environment(
    email_heard: EmailHeard, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARD_TEST_IMAP_PASSWORD", "secret")
    heard = email_heard(password='{ env = "HEARD_TEST_IMAP_PASSWORD" }')
    mailbox.deliver(mail())
    assert sync_once(heard).stored == {"support": 1}


def test_unparseable_mail_is_stored_raw_and_flagged_and_the_sync_goes_on(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    heard = email_heard()
    garbage = b"\xff\xfe not a mail at all \x81\x82\r\n\r\n"  # IMAP cannot carry NUL
    mailbox.deliver(garbage, mail(subject="after the garbage"))
    assert sync_once(heard).stored == {"support": 2}
    bad, good = stored(heard)
    assert (
        bad.flags == ["unparseable", "malformed"]
        and bad.raw == garbage
        and bad.no_auto_reply_reason
    )
    assert good.subject == "after the garbage"


def test_heard_sync_command_with_since(
    make_heard: MakeHeard,
    run_cli: RunCli,
    mailbox: Mailbox,
    smtp: SmtpCapture,
    tmp_path: Path,
) -> None:
    from datetime import datetime

    client = mailbox.server.client()
    try:
        client.append(
            mailbox.folder,
            mail(subject="ancient"),
            msg_time=datetime(2019, 3, 1, tzinfo=UTC),
        )
        client.append(mailbox.folder, mail(subject="recent"))
    finally:
        client.logout()
    heard = make_heard(email_toml(mailbox, smtp), queue=False)
    code, out, err = run_cli(
        "sync", "--config", str(tmp_path / "heard.toml"), "--since", "2025-06-01", "--quiet"
    )
    assert code == 0, err
    assert "support: 1 new, 0 already stored" in out
    assert [m.subject for m in stored(heard)] == ["recent"]
    assert len(smtp.messages) == 1  # the acknowledgement went out in the same command
    code, _, err = run_cli("sync", "--config", str(tmp_path / "heard.toml"), "--since", "June")
    assert code == 2 and "--since" in err


def test_the_progress_bar_knows_the_size_of_the_backlog(
    email_heard: EmailHeard, mailbox: Mailbox
) -> None:
    from inbox.cli.sync_cmd import watch_backlogs

    heard = email_heard(extra="batch_size = 4")
    mailbox.deliver(*(mail(subject=f"p{i}") for i in range(10)))
    totals = watch_backlogs(heard)
    seen: list[tuple[int, int | None]] = []
    sync_once(heard, progress=lambda name, n: seen.append((n, totals.get(name))))
    assert seen == [(4, 10), (4, 10), (2, 10)]

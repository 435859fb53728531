"""`heard run` as a real process: IMAP IDLE brings new mail in at once, not at the next poll."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.acceptance.process import HeardProcess, free_port
from tests.connectors.email.fixtures import Mailbox, email_toml
from tests.connectors.email.mails import mail
from tests.servers.smtp import SmtpCapture

pytestmark = [pytest.mark.imap, pytest.mark.smtp, pytest.mark.slow]


def stored_subjects(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("select subject from messages where direction = 'in' order by id")
            return [r[0] for r in rows]
    except sqlite3.OperationalError:  # not migrated yet
        return []


def wait_until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_heard_run_receives_by_idle_and_acknowledges(
    tmp_path: Path, mailbox: Mailbox, smtp: SmtpCapture
) -> None:
    db = tmp_path / "heard.db"
    config = tmp_path / "heard.toml"
    body = email_toml(mailbox, smtp, extra="poll_interval = 600")
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n' + body, encoding="utf-8")
    mailbox.deliver(mail(subject="before start"))
    heard = HeardProcess(config, free_port(), tmp_path).start()
    try:
        assert wait_until(lambda: stored_subjects(db) == ["before start"], 30), (
            heard.log.read_text()[-3000:]
        )
        started = time.monotonic()
        mailbox.deliver(mail(sender="Cy <cy@customer.example>", subject="while running"))
        # The poll interval is ten minutes: only IDLE can bring it in this fast.
        assert wait_until(lambda: "while running" in stored_subjects(db), 20), (
            heard.log.read_text()[-3000:]
        )
        assert time.monotonic() - started < 20
        assert wait_until(lambda: len(smtp.messages) == 2, 20)
        assert sorted(r for s in smtp.messages for r in s.recipients) == [
            "ada@customer.example",
            "cy@customer.example",
        ]
    finally:
        code = heard.stop()
    assert code == 0, heard.log.read_text()[-3000:]

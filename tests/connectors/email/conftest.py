"""Fixtures for the email channel: one Dovecot and one aiosmtpd per session, a fresh IMAP
folder per test, and a Heard configured with an email channel pointing at both."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from inbox.app import Heard
from tests.conftest import MakeHeard, server_missing
from tests.servers.dovecot import Dovecot, available
from tests.servers.smtp import SmtpCapture

ADDRESS = "support@example.com"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    missing = available()
    if missing:
        server_missing("Dovecot", RuntimeError(missing))
    try:
        server = Dovecot.start({"support": "secret", "other": "secret2"})
    except Exception as exc:
        server_missing("Dovecot", exc)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpCapture]:
    server = SmtpCapture().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpCapture) -> Iterator[SmtpCapture]:
    smtp_server.clear()
    smtp_server.handler.refuse.clear()
    yield smtp_server


@dataclass
class Mailbox:
    """A fresh IMAP folder of the `support` user for one test."""

    server: Dovecot
    folder: str

    def deliver(self, *raws: bytes) -> None:
        self.server.append_many(list(raws), self.folder)

    def flags(self) -> dict[int, tuple[bytes, ...]]:
        client = self.server.client()
        try:
            client.select_folder(self.folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return {}
            return {uid: tuple(f) for uid, f in client.get_flags(uids).items()}
        finally:
            client.logout()

    def count(self, folder: str | None = None) -> int:
        client = self.server.client()
        try:
            return int(client.folder_status(folder or self.folder, [b"MESSAGES"])[b"MESSAGES"])
        finally:
            client.logout()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[Mailbox]:
    folder = f"t-{uuid.uuid4().hex[:10]}"
    client = dovecot.client()
    try:
        client.create_folder(folder)
        client.create_folder(f"{folder}-sent")
    finally:
        client.logout()
    yield Mailbox(dovecot, folder)


# A one-team setup so every new conversation from a person is acknowledged.
RULES = """
[sla.standard]
first_response = "2h"
resolution = "8h"

[agents.ann]
name = "Ann Smith"

[teams.support]
name = "Customer Support"
agents = ["ann"]
sla = "standard"

[templates.ack]
en = "Hi {{ customer_name }}, we have your message ({{ reference }}). {{ owner_name }} will reply by {{ due }}."

[defaults]
team = "support"
"""


def email_toml(
    mailbox: Mailbox,
    smtp: SmtpCapture,
    *,
    port: int | None = None,
    extra: str = "",
    imap_extra: str = "",
    password: str = '"secret"',
) -> str:
    return f"""
[queue]
retry_base_seconds = 0.05
{RULES}

[[channels]]
type = "email"
name = "support"
address = "{ADDRESS}"
aliases = ["help@example.com"]
display_name = "Example Support"
sent_folder = "{mailbox.folder}-sent"
{extra}

[channels.imap]
host = "127.0.0.1"
port = {port or mailbox.server.port}
ssl = false
username = "support"
password = {password}
folder = "{mailbox.folder}"
timeout = 10
{imap_extra}

[channels.smtp]
host = "{smtp.host}"
port = {smtp.port}
"""


EmailHeard = Callable[..., Heard]


@pytest.fixture
def email_heard(make_heard: MakeHeard, mailbox: Mailbox, smtp: SmtpCapture) -> EmailHeard:
    """A migrated Heard with a running queue and the email channel on this test's folder."""

    def make(store_url: str | None = None, **options: object) -> Heard:
        return make_heard(email_toml(mailbox, smtp, **options), store_url)  # type: ignore[arg-type]

    return make

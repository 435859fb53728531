"""Email test fixtures shared with the connector contract suite (tests/connectors/conftest.py
imports them, so they serve every test under tests/connectors/): one Dovecot and one aiosmtpd
per session, a fresh IMAP folder per test, and the email contract harness."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from connectors.email.config import EmailConfig
from connectors.email.connector import EmailConnector
from inbox.types import MessageKind, OutboundMessage
from tests.conftest import server_missing
from tests.connectors.email.mails import mail
from tests.servers.dovecot import Dovecot, available
from tests.servers.smtp import CERT, SmtpCapture
from tests.servers.tcp_cut import CuttingProxy

if TYPE_CHECKING:
    from tests.connectors.conftest import Harness

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

    def deliver(self, *raws: bytes, received: datetime | None = None) -> None:
        self.server.append_many(list(raws), self.folder, received=received)

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


@pytest.fixture
async def email_harness(dovecot: Dovecot, mailbox: Mailbox) -> AsyncIterator[Harness]:
    """The email channel under the connector contract: Dovecot behind a proxy that can hang up,
    aiosmtpd with SMTP AUTH that can refuse our password or answer with a sending limit."""
    from tests.connectors.conftest import Harness

    smtp = SmtpCapture(tls="starttls", credentials={"support": "smtp-secret"}).start()
    proxy = CuttingProxy(dovecot.host, dovecot.port).start()
    config = EmailConfig.model_validate(
        {
            "type": "email",
            "name": "support",
            "address": ADDRESS,
            "imap": {
                "host": proxy.host,
                "port": proxy.port,
                "ssl": False,
                "username": "support",
                "password": "secret",
                "folder": mailbox.folder,
                "timeout": 10,
            },
            "smtp": {
                "host": "localhost",
                "port": smtp.port,
                "starttls": True,
                "ca_file": str(CERT),
                "username": "support",
                "password": "smtp-secret",
            },
        }
    )

    def refuse(status: int, delay: float) -> None:
        # SMTP has no 429: providers answer 4.7.x with the wait in words (RFC 3463 §3.8).
        smtp.handler.fail_next.append(
            f"451 4.7.1 Too many messages, try again in {int(delay)} seconds"
        )

    try:
        async with EmailConnector(config) as connector:
            yield Harness(
                connector=connector,
                outbound=lambda text, key: OutboundMessage(
                    account="support",
                    conversation_id=1,
                    reference="R-1001",
                    recipient="ada@customer.example",
                    text=text,
                    kind=MessageKind.MESSAGE,
                    idempotency_key=key,
                    subject="Order",
                ),
                sends_seen=lambda: len(smtp.messages),
                refuse_next_send=refuse,
                revoke=lambda: setattr(smtp.handler, "revoked", True),
                add_inbound=lambda text: mailbox.deliver(mail(text=text)),
                drop_next_fetch=proxy.stop_all_connections,
                add_malformed=lambda: mailbox.deliver(b"\xff\xfe garbage, no header at all\r\n"),
            )
    finally:
        proxy.stop()
        smtp.stop()

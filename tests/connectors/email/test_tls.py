"""Sending over STARTTLS and implicit TLS with real certificate checks (a private CA file)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.email.config import EmailConfig
from connectors.email.connector import EmailConnector
from inbox.errors import TransientError
from inbox.types import MessageKind, OutboundMessage
from tests.connectors.email.fixtures import Mailbox
from tests.connectors.email.mails import mail
from tests.servers.smtp import CERT, SmtpCapture

pytestmark = pytest.mark.smtp


@pytest.fixture(params=["starttls", "implicit"])
def tls_smtp(request: pytest.FixtureRequest) -> Iterator[tuple[str, SmtpCapture]]:
    server = SmtpCapture(tls=request.param).start()
    yield request.param, server
    server.stop()


def connector(mode: str, server: SmtpCapture, **tls: object) -> EmailConnector:
    smtp = {"host": "localhost", "port": server.port, mode if mode == "starttls" else "ssl": True}
    config = EmailConfig.model_validate(
        {"type": "email", "name": "s", "address": "support@example.com", "smtp": {**smtp, **tls}}
    )
    return EmailConnector(config)


OUT = OutboundMessage(
    account="s",
    conversation_id=1,
    reference="R-1001",
    recipient="ada@customer.example",
    text="Over TLS.",
    kind=MessageKind.MESSAGE,
    idempotency_key="tls-1",
    subject="Secure",
)


async def test_mail_goes_out_over_tls_checked_against_our_ca(
    tls_smtp: tuple[str, SmtpCapture],
) -> None:
    mode, server = tls_smtp
    async with connector(mode, server, ca_file=str(CERT)) as email:
        delivery = await email.send(OUT)
    [got] = server.messages
    assert got.message["Message-ID"] == delivery.external_id
    assert got.message["Subject"] == "Re: Secure [#R-1001]"


async def test_an_untrusted_certificate_is_refused(tls_smtp: tuple[str, SmtpCapture]) -> None:
    mode, server = tls_smtp
    async with connector(mode, server) as email:
        with pytest.raises(
            TransientError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"
        ):
            await email.send(OUT)
    assert server.messages == []


async def test_certificate_checks_can_be_switched_off(tls_smtp: tuple[str, SmtpCapture]) -> None:
    mode, server = tls_smtp
    async with connector(mode, server, verify_certificates=False) as email:
        await email.send(OUT)
    assert len(server.messages) == 1


@pytest.mark.imap
@pytest.mark.parametrize("mode", ["ssl", "starttls"])
async def test_imap_over_tls_and_starttls(mode: str, mailbox: Mailbox) -> None:
    mailbox.deliver(mail(subject="over tls"))
    port = mailbox.server.ssl_port if mode == "ssl" else mailbox.server.port
    config = EmailConfig.model_validate(
        {
            "type": "email",
            "name": "s",
            "address": "support@example.com",
            "imap": {
                "host": "localhost",
                "port": port,
                "ssl": mode == "ssl",
                "starttls": mode == "starttls",
                "username": "support",
                "password": "secret",
                "folder": mailbox.folder,
                "ca_file": str(CERT),
            },
        }
    )
    async with EmailConnector(config) as email:
        batch = await email.fetch(None, 10)
    assert [m.subject for m in batch.messages] == ["over tls"]

"""A real SMTP server (aiosmtpd) on a free loopback port that keeps every message it accepts.

Tests parse what it captured with the stdlib, exactly as a customer's mail client would see it.
It can refuse recipients (550) or defer them (451) to prove how sends fail.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.dovecot import free_port


@dataclass
class Captured:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    captured: list[Captured] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    fail_next: list[str] = field(default_factory=list)  # replies to the next DATA commands
    credentials: dict[str, str] = field(default_factory=dict)
    revoked: bool = False

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            not self.revoked
            and isinstance(data, LoginPassword)
            and self.credentials.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_next:
            return self.fail_next.pop(0)
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        self.captured.append(Captured(str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return "250 Message accepted for delivery"


TLS_DIR = Path(__file__).parent / "tls"
CERT = TLS_DIR / "cert.pem"


def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT, TLS_DIR / "key.pem")
    return context


class SmtpCapture:
    """`tls`: "none", "starttls" (required before MAIL) or "implicit" (SMTPS)."""

    def __init__(self, tls: str = "none", credentials: dict[str, str] | None = None) -> None:
        self.handler = _Handler(credentials=dict(credentials or {}))
        self.port = free_port()
        self.host = "127.0.0.1"
        options: dict[str, Any] = {}
        if tls == "starttls":
            options = {"tls_context": server_tls(), "require_starttls": True}
        elif tls == "implicit":
            options = {"ssl_context": server_tls()}
        if credentials:
            # AUTH only after TLS, as real servers insist (aiosmtpd's default).
            options |= {"authenticator": self.handler.authenticate, "auth_required": True}
        self._controller = Controller(self.handler, hostname=self.host, port=self.port, **options)

    def start(self) -> SmtpCapture:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Captured]:
        return list(self.handler.captured)

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        self.handler.refuse[address.lower()] = reply

    def clear(self) -> None:
        self.handler.captured.clear()
        self.handler.fail_next.clear()
        self.handler.revoked = False

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Captured]:
        """The captured messages once there are `count`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.handler.captured) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages

    def config(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}

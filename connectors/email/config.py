"""What an admin writes under `[[channels]] type = "email"`, validated with pydantic.

Passwords may be written as `{ env = "NAME" }` or `{ file = "PATH" }`; inbox.config resolves
those before this model sees them, so nothing here reads the environment itself.
"""

from __future__ import annotations

from datetime import date
from ssl import CERT_NONE, SSLContext, create_default_context
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.base import ChannelConfig


class _Server(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int | None = Field(None, ge=1, le=65535)
    ssl: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = Field(None, repr=False)
    verify_certificates: bool = True
    ca_file: str | None = None  # a private CA's certificate (PEM) to trust besides the system's
    timeout: float = Field(30.0, gt=0)

    def ssl_context(self) -> SSLContext:
        context = create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        if not self.verify_certificates:
            context.check_hostname = False
            context.verify_mode = CERT_NONE
        return context

    @model_validator(mode="after")
    def _one_tls_mode(self) -> _Server:
        if self.ssl and self.starttls:
            raise ValueError("choose either ssl (implicit TLS) or starttls, not both")
        return self


class ImapSettings(_Server):
    ssl: bool = True
    folder: str = "INBOX"

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.ssl else 143)


class SmtpSettings(_Server):
    starttls: bool = False

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.ssl else 587 if self.starttls else 25)


class EmailConfig(ChannelConfig):
    """One support mailbox. `address` is where customers write; `aliases` are ours too."""

    type: Literal["email"] = "email"
    address: str
    aliases: tuple[str, ...] = ()
    imap: ImapSettings | None = None
    smtp: SmtpSettings | None = None
    mark_seen: bool = True
    sent_folder: str | None = None
    max_attachment_size: int | None = Field(None, ge=0)
    since: date | None = None
    batch_size: int = Field(100, ge=1, le=5000)
    # A batch is also cut at this many bytes, so big attachments cannot take all memory.
    batch_bytes: int = Field(64 * 1024 * 1024, ge=1)
    idle: bool = True
    read_ahead: bool = True
    # Worker processes that fetch and parse big batches (≥ 64 mails), each on its own IMAP
    # connection, while the store saves the previous one; 0 reads in place. One is the
    # default: a backlog then uses two cores, and the normal trickle of new mail (small
    # batches) is read in place without starting it.
    parse_processes: int = Field(1, ge=0, le=64)
    poll_interval: float = Field(60.0, gt=0)

    @field_validator("address")
    @classmethod
    def _looks_like_address(cls, value: str) -> str:
        if "@" not in value or value.strip() != value:
            raise ValueError("must be an email address like support@example.com")
        return value

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in (self.address, *self.aliases))

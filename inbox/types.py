"""The normalized values every channel speaks: one shape for email, chat, social and webhooks.

This is a leaf module: connectors and rules import it, and it imports nothing of ours, so a
connector can be written and tested without the store, the queue or the web server.
Values are frozen so a message cannot change between normalizing and storing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class MessageKind(enum.StrEnum):
    """What a stored message is to the conversation (design.md: message/ack/update/note/survey)."""

    MESSAGE = "message"
    ACK = "ack"
    UPDATE = "update"
    NOTE = "note"
    SURVEY = "survey"


class SenderKind(enum.StrEnum):
    """Who (or what) wrote an inbound message; only humans get automatic answers (RFC 3834)."""

    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    OWN = "own"


AUTOMATIC_KINDS = frozenset({MessageKind.ACK, MessageKind.UPDATE, MessageKind.SURVEY})


@dataclass(frozen=True, slots=True)
class Sender:
    """The customer's handle on the channel: an address, a Telegram user id, an X user id."""

    handle: str
    name: str = ""
    email: str | None = None
    verified_email: bool = False


@dataclass(frozen=True, slots=True)
class AttachmentIn:
    """An attachment as the channel delivered it; `data` is None when it was skipped."""

    filename: str
    content_type: str
    size: int
    data: bytes | None = None
    skipped_reason: str | None = None
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, normalized. Unique by (account, external_id).

    `thread_keys` name the conversation this message belongs to on its channel (an email's
    Message-ID, In-Reply-To and References; a Telegram chat; an X conversation_id). The first key
    is this message's own; ingest joins the conversation any key already maps to and records all
    keys so later messages can find it.
    """

    channel: str
    account: str
    external_id: str
    sender: Sender
    text: str
    received_at: datetime
    thread_keys: Sequence[str] = ()
    subject: str = ""
    html: str | None = None
    full_text: str | None = None
    attachments: Sequence[AttachmentIn] = ()
    raw: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    sender_kind: SenderKind = SenderKind.HUMAN
    no_auto_reply_reason: str | None = None
    flags: Sequence[str] = ()
    is_public: bool = False
    reference: str | None = None
    edit_of: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def wants_auto_reply(self) -> bool:
        return self.sender_kind is SenderKind.HUMAN and self.no_auto_reply_reason is None


@dataclass(frozen=True, slots=True)
class Batch:
    """What one `fetch` returned: messages in order and the cursor to save with them."""

    messages: Sequence[InboundMessage]
    next_cursor: str | None
    more: bool = False


@dataclass(frozen=True, slots=True)
class AttachmentOut:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to send on a conversation's own channel.

    `thread` carries what the channel needs to answer in place, collected from the stored
    conversation: email's subject and Message-IDs, a Telegram chat id, an X conversation or
    participant id. `idempotency_key` is stable across retries so a peer can drop duplicates.
    """

    account: str
    conversation_id: int
    reference: str
    recipient: str
    text: str
    kind: MessageKind
    idempotency_key: str
    html: str | None = None
    subject: str = ""
    recipient_name: str = ""
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    thread: Mapping[str, Any] = field(default_factory=dict)
    attachments: Sequence[AttachmentOut] = ()
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A send the channel accepted, with the channel's own id for it."""

    external_id: str
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What a push connector wants the HTTP layer to answer besides storing messages."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"

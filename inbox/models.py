"""The conversation store's tables (SQLAlchemy 2 typed models).

Every datetime is UTC. Uniqueness that protects customers from duplicates — one message per
(account, external id), one identity per (channel, handle), one outbound per idempotency key — is
enforced by constraints, so concurrent workers cannot race past it. Constraint names follow a
convention because Alembic needs names to alter tables on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PRIORITIES = ("low", "normal", "high", "urgent")
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
STATUSES = ("open", "pending", "snoozed", "resolved")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes and always returns aware ones (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(back_populates="contact")


class Identity(Base):
    """One handle of a contact on one channel kind (an address, a Telegram or X user id)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "handle"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    handle: Mapped[str] = mapped_column(String(320))
    display: Mapped[str] = mapped_column(String(300), default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="identities")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_queue", "status", "first_response_due"),
        Index("ix_conversations_activity", "status", "last_activity_at"),
        Index("ix_conversations_assignee_status", "assignee", "status"),
        Index("ix_conversations_team_status", "team", "status"),
        # The queue views (inbox.queries): each filter + sort keyed on (…, id) for keyset paging.
        Index("ix_conversations_sla", "status", "sla_due_at", "id"),
        Index("ix_conversations_assignee_sla", "assignee", "status", "sla_due_at", "id"),
        Index("ix_conversations_team_sla", "team", "status", "sla_due_at", "id"),
        Index("ix_conversations_priority", "status", "priority", "sla_due_at", "id"),
        Index("ix_conversations_activity_id", "status", "last_activity_at", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(100), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    preview: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    team: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(SmallInteger, default=1)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    sla_policy: Mapped[str | None] = mapped_column(String(100))
    first_response_due: Mapped[datetime | None] = mapped_column()
    resolution_due: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    sla_paused_at: Mapped[datetime | None] = mapped_column()
    sla_warned_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    snoozed_until: Mapped[datetime | None] = mapped_column()
    # The next SLA deadline (first response, then resolution; NO_DUE when none), kept by a
    # mapper hook below so the queue can sort and page on one indexed column.
    sla_due_at: Mapped[datetime] = mapped_column(default=lambda: NO_DUE)
    routed_at: Mapped[datetime | None] = mapped_column()
    ack_sent_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    no_auto_reply_reason: Mapped[str | None] = mapped_column(String(200))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    thread: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )
    tag_rows: Mapped[list[ConversationTag]] = relationship(
        cascade="all, delete-orphan", order_by="ConversationTag.tag"
    )

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @property
    def priority_name(self) -> str:
        return PRIORITIES[max(0, min(self.priority, len(PRIORITIES) - 1))]


def next_due(conversation: Conversation) -> datetime | None:
    """The deadline the conversation is racing now: first response until answered, then resolution."""
    if conversation.status == "resolved":
        return None
    if conversation.first_response_at is None and conversation.first_response_due is not None:
        return conversation.first_response_due
    return conversation.resolution_due


@event.listens_for(Conversation, "before_insert")
@event.listens_for(Conversation, "before_update")
def _keep_sla_due(_mapper: Any, _connection: Any, conversation: Conversation) -> None:
    conversation.sla_due_at = next_due(conversation) or NO_DUE


class ConversationTag(Base):
    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class ThreadKey(Base):
    """Maps a channel's thread handle (Message-ID, chat id, conversation_id) to a conversation."""

    __tablename__ = "thread_keys"
    __table_args__ = (UniqueConstraint("account", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(998))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("account", "external_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    account: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(998))
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16), default="message")
    sender_kind: Mapped[str] = mapped_column(String(16), default="human")
    author: Mapped[str | None] = mapped_column(String(100))
    sender_handle: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    full_text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    no_auto_reply_reason: Mapped[str | None] = mapped_column(String(200))
    extras: Mapped[dict[str, Any]] = mapped_column(default=dict)
    original_text: Mapped[str | None] = mapped_column(Text)
    edited_at: Mapped[datetime | None] = mapped_column()
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )


class Attachment(Base):
    """Small files live in the row, large ones on disk under the configured directory."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    storage: Mapped[str] = mapped_column(String(8))  # db | disk | skipped
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(1000))
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_id: Mapped[str | None] = mapped_column(String(500))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped_reason: Mapped[str | None] = mapped_column(String(300))

    message: Mapped[Message] = relationship(back_populates="attachments")


class Outbound(Base):
    """A send waiting in the transactional outbox (design.md): a row first, then a job."""

    __tablename__ = "outbound"
    __table_args__ = (Index("ix_outbound_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    account: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(998))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class Event(Base):
    """Audit log: every assignment, rule hit, status change, ack, escalation."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    type: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelCursor(Base):
    __tablename__ = "channel_cursors"

    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Job(Base):
    """Work recorded in the same transaction that made it necessary; re-enqueued on start."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_pending", "status", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    actor: Mapped[str] = mapped_column(String(50))
    ref_id: Mapped[int] = mapped_column(IdType)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent|admin
    password_hash: Mapped[str | None] = mapped_column(String(300))
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Touched while the agent has the workspace open; the web chat offers its offline form
    # when nobody has been seen lately (migration 0006_chat).
    last_seen_at: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Counter(Base):
    """Small shared counters (round-robin positions) updated atomically across workers."""

    __tablename__ = "counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

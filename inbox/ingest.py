"""Ingest: one normalized inbound message into the store, exactly once.

A message is unique by (account, external_id); the channel cursor is saved in the same
transaction as the messages, so a crash re-fetches and the store dedupes (at-least-once in,
exactly-once stored). Every insert that can race another worker is an `ON CONFLICT DO NOTHING`
or sits in a savepoint that falls back to the row the other worker committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from inbox.attachments import AttachmentStore
from inbox.models import (
    NO_DUE,
    ChannelCursor,
    Contact,
    Conversation,
    Event,
    Identity,
    Job,
    Message,
    Outbound,
    ThreadKey,
    utcnow,
)
from inbox.store import insert_for
from inbox.types import Batch, Direction, InboundMessage, MessageKind, Sender, SenderKind

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

REFERENCE_PREFIX = "R-"
REFERENCE_OFFSET = 1000
PREVIEW_LENGTH = 200


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int | None
    conversation_id: int
    created: bool
    new_conversation: bool = False
    reopened: bool = False


def reference_for(conversation_id: int) -> str:
    return f"{REFERENCE_PREFIX}{REFERENCE_OFFSET + conversation_id}"


def reference_key(reference: str) -> str:
    return f"ref:{reference.upper()}"


_IGNORING_INSERTS: dict[tuple[str, str], Any] = {}

# Core tables for the hot path: plain inserts skip the ORM's per-row bookkeeping.
CONTACTS = cast(Table, Contact.__table__)
IDENTITIES = cast(Table, Identity.__table__)
CONVERSATIONS = cast(Table, Conversation.__table__)
MESSAGES = cast(Table, Message.__table__)
THREAD_KEYS = cast(Table, ThreadKey.__table__)
EVENTS = cast(Table, Event.__table__)
JOBS = cast(Table, Job.__table__)
ABSENT = 0  # memo.contacts: the batch's prefetch found no identity for this handle


def _insert_ignoring_conflicts(session: Session, table: Table) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id`, built once per dialect and table.

    Building the statement once and passing values as parameters lets SQLAlchemy reuse the
    compiled SQL; building it with `.values(...)` per message cost a third of ingest's time.
    """
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name)
    if key not in _IGNORING_INSERTS:
        stmt: Any = insert_for(session)(table).on_conflict_do_nothing()
        if "id" in table.c:
            stmt = stmt.returning(table.c.id)
        _IGNORING_INSERTS[key] = stmt
    return _IGNORING_INSERTS[key]


@dataclass
class BatchMemo:
    """What one transaction already learned, so a batch of 200 asks the store once, not 200x.

    Only facts that cannot change under us inside our own transaction are kept: rows we wrote,
    and rows that existed (a concurrent writer is caught by the unique constraints).
    """

    messages: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    contacts: dict[tuple[str, str], int] = field(default_factory=dict)
    keys: dict[tuple[str, str], int | None] = field(default_factory=dict)
    routed: set[int] = field(default_factory=set)
    prefetched: bool = False
    # Rows nothing in the batch reads back, written in one executemany each by `write`.
    events: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    references: dict[int, str] = field(default_factory=dict)  # of the conversations created

    def prefetch(self, session: Session, msgs: Sequence[InboundMessage]) -> None:
        by_account: dict[str, list[str]] = {}
        for m in msgs:
            by_account.setdefault(m.account, []).append(m.external_id)
        for account, ids in by_account.items():
            for start in range(0, len(ids), 500):
                rows = session.execute(
                    select(Message.external_id, Message.id, Message.conversation_id).where(
                        Message.account == account,
                        Message.external_id.in_(ids[start : start + 500]),
                    )
                ).all()
                for external_id, message_id, conversation_id in rows:
                    self.messages[(account, external_id)] = (message_id, conversation_id)
        self._prefetch_contacts(session, msgs)
        self._create_contacts(session, msgs)
        self._prefetch_keys(session, msgs)
        self.prefetched = True

    def _prefetch_contacts(self, session: Session, msgs: Sequence[InboundMessage]) -> None:
        """The contact of every sender in the batch that has one and was never merged away."""
        by_channel: dict[str, list[str]] = {}
        for m in msgs:
            by_channel.setdefault(m.channel, []).append(m.sender.handle)
        for channel, handles in by_channel.items():
            handles = list(dict.fromkeys(handles))
            for start in range(0, len(handles), 500):
                part = handles[start : start + 500]
                rows = session.execute(
                    select(Identity.handle, Identity.contact_id, Contact.merged_into_id)
                    .join(Contact, Contact.id == Identity.contact_id)
                    .where(Identity.channel == channel, Identity.handle.in_(part))
                ).all()
                found = {handle: (cid, merged) for handle, cid, merged in rows}
                for handle in part:
                    if handle not in found:
                        self.contacts[(channel, handle)] = ABSENT
                    elif found[handle][1] is None:
                        self.contacts[(channel, handle)] = found[handle][0]
                    # merged contacts are followed one by one in _identity_contact

    def _create_contacts(self, session: Session, msgs: Sequence[InboundMessage]) -> None:
        """A contact and identity for every new sender of the batch, in two statements.

        A first import meets mostly new senders, and two INSERTs each were a quarter of its
        store time. Senders whose verified email may link them to an existing contact, and
        batches with a single new sender (a webhook), take the one-by-one path in `ingest`.
        A handle another worker registered meanwhile is left to that path too: our contact for
        it is deleted again and `ingest` finds theirs.
        """
        todo: dict[tuple[str, str], InboundMessage] = {}
        for m in msgs:
            key = (m.channel, m.sender.handle)
            if self.contacts.get(key) != ABSENT or key in todo or m.edit_of:
                continue
            if (m.account, m.external_id) in self.messages:
                continue
            if m.sender.email and m.sender.verified_email and m.channel != "email":
                continue
            todo[key] = m
        if len(todo) < 2:
            return
        contact_ids = (
            session.execute(
                insert(CONTACTS).returning(CONTACTS.c.id, sort_by_parameter_order=True),
                [_contact_row(m.sender) for m in todo.values()],
            )
            .scalars()
            .all()
        )
        identities = [
            _identity_row(m, contact_id)
            for m, contact_id in zip(todo.values(), contact_ids, strict=True)
        ]
        stmt = (
            insert_for(session)(IDENTITIES)
            .on_conflict_do_nothing()
            .returning(IDENTITIES.c.channel, IDENTITIES.c.handle)
        )
        registered = {(row.channel, row.handle) for row in session.execute(stmt, identities)}
        lost = []
        for key, contact_id in zip(todo, contact_ids, strict=True):
            if key in registered:
                self.contacts[key] = contact_id
            else:
                del self.contacts[key]  # `ingest` looks the other worker's contact up
                lost.append(contact_id)
        if lost:
            session.execute(delete(CONTACTS).where(CONTACTS.c.id.in_(lost)))

    def _prefetch_keys(self, session: Session, msgs: Sequence[InboundMessage]) -> None:
        by_account: dict[str, list[str]] = {}
        for m in msgs:
            by_account.setdefault(m.account, []).extend(_lookup_keys(m))
        for account, keys in by_account.items():
            keys = [k for k in dict.fromkeys(keys) if (account, k) not in self.keys]
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                for key in part:
                    self.keys[(account, key)] = None
                rows = session.execute(
                    select(ThreadKey.key, ThreadKey.conversation_id).where(
                        ThreadKey.account == account, ThreadKey.key.in_(part)
                    )
                ).all()
                for key, found in rows:
                    self.keys[(account, key)] = found

    def write(self, session: Session) -> None:
        """Write references, events and jobs: one statement each for the whole batch."""
        if self.references:
            session.execute(
                update(CONVERSATIONS)
                .where(CONVERSATIONS.c.id == bindparam("cid"))
                .values(reference=bindparam("ref")),
                [{"cid": cid, "ref": ref} for cid, ref in self.references.items()],
            )
            self.references = {}
        if self.events:
            session.execute(insert(EVENTS), self.events)
            self.events = []
        if self.jobs:
            session.execute(insert(JOBS), self.jobs)
            self.jobs = []


def ingest(
    session: Session,
    msg: InboundMessage,
    *,
    attachments: AttachmentStore | None = None,
    memo: BatchMemo | None = None,
) -> IngestResult:
    """Store `msg` inside the caller's transaction; a duplicate stores nothing."""
    if memo is None:
        memo = BatchMemo()
        result = ingest(session, msg, attachments=attachments, memo=memo)
        memo.write(session)
        return result
    seen = memo.messages.get((msg.account, msg.external_id))
    if seen is not None:
        return IngestResult(seen[0], seen[1], created=False)
    if not memo.prefetched:
        existing = _find_message(session, msg.account, msg.external_id)
        if existing is not None:
            return IngestResult(existing.id, existing.conversation_id, created=False)
    if msg.edit_of:
        edited = _find_message(session, msg.account, msg.edit_of)
        if edited is not None:
            _apply_edit(session, edited, msg)
            return IngestResult(edited.id, edited.conversation_id, created=False)
    contact_id = memo.contacts.get((msg.channel, msg.sender.handle))
    if not contact_id:
        contact_id = _contact_for(session, msg, known_absent=contact_id == ABSENT)
        memo.contacts[(msg.channel, msg.sender.handle)] = contact_id
    conversation, conversation_id, new, reopened = _conversation_for(session, msg, contact_id, memo)
    message_id = _insert_message(session, msg, conversation_id)
    if message_id is None:  # another worker stored it between our check and insert
        winner = _find_message(session, msg.account, msg.external_id)
        assert winner is not None
        return IngestResult(winner.id, winner.conversation_id, created=False)
    store = attachments or AttachmentStore(None)
    for item in msg.attachments:
        row = store.row(item)
        row.message_id = message_id
        session.add(row)
    memo.messages[(msg.account, msg.external_id)] = (message_id, conversation_id)
    _remember_thread_keys(session, msg.account, msg.thread_keys, conversation_id, memo)
    if conversation is not None:  # a new conversation was written with this message's facts
        _touch_conversation(conversation, msg)
    if msg.extras.get("bounce_of"):
        _mark_bounced(session, msg)
    if conversation_id not in memo.routed:
        memo.routed.add(conversation_id)
        memo.jobs.append({"actor": "route", "ref_id": conversation_id})
    return IngestResult(message_id, conversation_id, True, new, reopened)


def _find_message(session: Session, account: str, external_id: str) -> Message | None:
    return session.scalars(
        select(Message).where(Message.account == account, Message.external_id == external_id)
    ).first()


def _apply_edit(session: Session, message: Message, msg: InboundMessage) -> None:
    if message.original_text is None:
        message.original_text = message.text
    message.text = msg.text
    message.html = msg.html if msg.html is not None else message.html
    message.edited_at = msg.received_at
    session.add(
        Event(
            conversation_id=message.conversation_id,
            type="message_edited",
            actor="customer",
            data={"message_id": message.id, "external_id": msg.external_id},
        )
    )


def _contact_for(session: Session, msg: InboundMessage, *, known_absent: bool = False) -> int:
    """The id of the contact behind this handle; created with its identity on first sight.

    A verified email address (and only a verified one) links a new handle to the contact that
    already owns that address, so a customer is one contact across channels. No savepoints:
    a handle another worker registered first shows up as an ignored insert, and our new contact
    row is removed again.
    """
    sender = msg.sender
    found = None if known_absent else _identity_contact(session, msg.channel, sender.handle)
    if found is not None:
        return found
    linked = None
    if sender.email and sender.verified_email and msg.channel != "email":
        linked = _identity_contact(session, "email", sender.email.lower())
    contact_id = linked
    if contact_id is None:
        contact_id = session.execute(
            insert(CONTACTS).returning(CONTACTS.c.id), _contact_row(sender)
        ).scalar_one()
    stmt = _insert_ignoring_conflicts(session, IDENTITIES)
    if session.execute(stmt, _identity_row(msg, contact_id)).scalar() is None:
        # Another worker registered this handle first: drop our new contact, use theirs.
        if linked is None:
            session.execute(delete(CONTACTS).where(CONTACTS.c.id == contact_id))
        found = _identity_contact(session, msg.channel, sender.handle)
        assert found is not None
        return found
    return contact_id


def _contact_row(sender: Sender) -> dict[str, Any]:
    return {"name": sender.name or sender.handle, "email": sender.email, "tags": []}


def _identity_row(msg: InboundMessage, contact_id: int) -> dict[str, Any]:
    """A handle of `contact_id`; email addresses arrive verified by the mail itself."""
    return {
        "contact_id": contact_id,
        "channel": msg.channel,
        "handle": msg.sender.handle,
        "display": msg.sender.name,
        "verified": msg.channel == "email" or msg.sender.verified_email,
        "created_at": utcnow(),
    }


def _identity_contact(session: Session, channel: str, handle: str) -> int | None:
    """The contact owning a handle, following merges to the surviving contact."""
    contact_id = session.scalar(
        select(Identity.contact_id).where(Identity.channel == channel, Identity.handle == handle)
    )
    seen: set[int] = set()
    while contact_id is not None and contact_id not in seen:
        seen.add(contact_id)
        merged = session.scalar(select(Contact.merged_into_id).where(Contact.id == contact_id))
        if merged is None:
            break
        contact_id = merged
    return contact_id


def _lookup_keys(msg: InboundMessage) -> list[str]:
    keys = [k for k in msg.thread_keys if k]
    if msg.reference:
        keys.append(reference_key(msg.reference))
    return keys


def _conversation_for(
    session: Session, msg: InboundMessage, contact_id: int, memo: BatchMemo
) -> tuple[Conversation | None, int, bool, bool]:
    """(the conversation joined, or None for a new one; its id; new; reopened)."""
    conversation = _find_conversation(session, msg.account, _lookup_keys(msg), memo)
    if conversation is not None:
        return conversation, conversation.id, False, _reopen_if_needed(session, conversation, msg)
    conversation_id = _new_conversation(session, msg, contact_id, memo)
    reference = reference_for(conversation_id)
    keys = list(dict.fromkeys([f"id:{msg.external_id}", *_lookup_keys(msg)]))
    keys.append(reference_key(reference))
    rows = [{"account": msg.account, "key": k, "conversation_id": conversation_id} for k in keys]
    inserted = (
        session.execute(_insert_ignoring_conflicts(session, THREAD_KEYS), rows).scalars().all()
    )
    if len(inserted) < len(keys):
        # Another worker created the conversation for this thread first: undo ours, join it.
        session.execute(delete(THREAD_KEYS).where(THREAD_KEYS.c.id.in_(list(inserted))))
        session.execute(delete(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id))
        memo.references.pop(conversation_id, None)
        memo.keys.clear()
        found = _find_conversation(session, msg.account, keys[:-1], memo)
        if found is None:
            raise RuntimeError(
                f"thread keys of {msg.external_id!r} conflict but name no conversation"
            )
        return found, found.id, False, _reopen_if_needed(session, found, msg)
    for key in keys:
        memo.keys[(msg.account, key)] = conversation_id
    memo.events.append(
        {
            "conversation_id": conversation_id,
            "type": "conversation_created",
            "actor": "customer",
            "data": {"channel": msg.channel, "account": msg.account, "reference": reference},
        }
    )
    return None, conversation_id, True, False


def _find_conversation(
    session: Session, account: str, keys: Sequence[str], memo: BatchMemo
) -> Conversation | None:
    if not keys:
        return None
    unknown = [k for k in keys if (account, k) not in memo.keys]
    if unknown:
        rows = session.execute(
            select(ThreadKey.key, ThreadKey.conversation_id).where(
                ThreadKey.account == account, ThreadKey.key.in_(unknown)
            )
        ).all()
        for key in unknown:
            memo.keys[(account, key)] = None
        for key, found in rows:
            memo.keys[(account, key)] = found
    # Prefer the key the connector listed first (the most specific: In-Reply-To before References).
    target = next((memo.keys[(account, k)] for k in keys if memo.keys.get((account, k))), None)
    if target is None:
        return None
    conversation = session.get(Conversation, target)
    seen = set()
    while conversation is not None and conversation.merged_into_id and conversation.id not in seen:
        seen.add(conversation.id)
        conversation = session.get(Conversation, conversation.merged_into_id)
    return conversation


def _new_conversation(
    session: Session, msg: InboundMessage, contact_id: int, memo: BatchMemo
) -> int:
    """Insert a conversation, complete with this message's facts; returns its id.

    One plain INSERT … RETURNING id and no ORM object: building one (or flushing it) per new
    conversation was the biggest cost of importing a mailbox. A later message of the batch
    that joins it loads it like any other. The reference, which needs the id, is written for
    the whole batch in one statement (`BatchMemo.write`); thread keys already carry it.
    """
    now = utcnow()
    values = dict(_CONVERSATION_DEFAULTS)
    values.update(
        channel=msg.channel,
        account=msg.account,
        contact_id=contact_id,
        subject=msg.subject or "",
        is_public=msg.is_public,
        thread={},
        created_at=now,
        last_activity_at=now,
        updated_at=now,
        sla_due_at=NO_DUE,
    )
    draft = SimpleNamespace(**values)
    _touch_conversation(cast(Conversation, draft), msg)
    stmt = insert(CONVERSATIONS).returning(CONVERSATIONS.c.id)
    conversation_id: int = session.execute(stmt, vars(draft)).scalar_one()
    memo.references[conversation_id] = reference_for(conversation_id)
    return conversation_id


def _scalar_default(column: Any) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None


# Every column of a new conversation not set from the message: its default, else NULL.
_CONVERSATION_DEFAULTS: dict[str, Any] = {
    column.key: _scalar_default(column) for column in CONVERSATIONS.c if column.key != "id"
}


def _reopen_if_needed(session: Session, conversation: Conversation, msg: InboundMessage) -> bool:
    """A customer writing again reopens a resolved conversation and resumes a pending one."""
    if msg.sender_kind is not SenderKind.HUMAN:
        return False
    if conversation.status == "resolved":
        conversation.status = "open"
        conversation.resolved_at = None
        conversation.ack_sent_at = None  # a reopened conversation is acknowledged again
        session.add(
            Event(conversation_id=conversation.id, type="reopened", actor="customer", data={})
        )
        return True
    if conversation.status in ("pending", "snoozed"):
        session.add(
            Event(
                conversation_id=conversation.id,
                type="status_changed",
                actor="customer",
                data={"from": conversation.status, "to": "open", "why": "customer replied"},
            )
        )
        conversation.status = "open"
        conversation.snoozed_until = None
    return False


def _insert_message(session: Session, msg: InboundMessage, conversation_id: int) -> int | None:
    values = {
        "conversation_id": conversation_id,
        "account": msg.account,
        "external_id": msg.external_id,
        "direction": Direction.IN.value,
        "kind": MessageKind.MESSAGE.value,
        "sender_kind": msg.sender_kind.value,
        "sender_handle": msg.sender.handle,
        "sender_name": msg.sender.name,
        "subject": msg.subject,
        "text": msg.text,
        "full_text": msg.full_text,
        "html": msg.html,
        "raw": msg.raw or None,
        "headers": dict(msg.headers),
        "flags": list(msg.flags),
        "no_auto_reply_reason": _no_auto_reply_reason(msg),
        "extras": _json_safe(dict(msg.extras)),
        "created_at": msg.received_at,
    }
    stmt = _insert_ignoring_conflicts(session, MESSAGES)
    found: int | None = session.execute(stmt, values).scalar()
    return found


def _no_auto_reply_reason(msg: InboundMessage) -> str | None:
    if msg.no_auto_reply_reason:
        return msg.no_auto_reply_reason
    if msg.sender_kind is not SenderKind.HUMAN:
        return f"sender is {msg.sender_kind.value.replace('_', ' ')}"
    return None


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _remember_thread_keys(
    session: Session, account: str, keys: Iterable[str], conversation_id: int, memo: BatchMemo
) -> None:
    fresh = [k for k in dict.fromkeys(keys) if k and memo.keys.get((account, k)) is None]
    if fresh:
        rows = [{"account": account, "key": k, "conversation_id": conversation_id} for k in fresh]
        session.execute(_insert_ignoring_conflicts(session, THREAD_KEYS), rows)
        for key in fresh:
            memo.keys[(account, key)] = conversation_id


def _touch_conversation(conversation: Conversation, msg: InboundMessage) -> None:
    conversation.last_activity_at = max(conversation.last_activity_at, msg.received_at)
    conversation.last_inbound_at = msg.received_at
    conversation.preview = (
        (msg.text or msg.subject or "").strip().replace("\n", " ")[:PREVIEW_LENGTH]
    )
    if not conversation.subject and msg.subject:
        conversation.subject = msg.subject
    if msg.sender_kind is SenderKind.HUMAN:
        thread = dict(conversation.thread or {})
        thread.update(_json_safe(dict(msg.extras.get("thread") or {})))
        thread.setdefault("recipient", msg.sender.handle)
        if msg.sender.name:
            thread.setdefault("recipient_name", msg.sender.name)
        thread["last_inbound_id"] = msg.external_id
        conversation.thread = thread
    conversation.no_auto_reply_reason = _no_auto_reply_reason(msg)


def _mark_bounced(session: Session, msg: InboundMessage) -> None:
    """A bounce of our own mail flags the failed send where agents will see it."""
    original = _find_message(session, msg.account, str(msg.extras["bounce_of"]))
    if original is None or original.direction != Direction.OUT.value:
        return
    original.delivery_status = "bounced"
    session.execute(
        update(Outbound)
        .where(Outbound.message_id == original.id)
        .values(status="failed", last_error=f"bounced: {msg.subject or 'delivery failure'}")
    )
    session.add(
        Event(
            conversation_id=original.conversation_id,
            type="delivery_failed",
            actor="system",
            data={"message_id": original.id, "bounce_external_id": msg.external_id},
        )
    )


def ingest_all(
    session: Session, msgs: Sequence[InboundMessage], store: AttachmentStore | None = None
) -> list[IngestResult]:
    memo = BatchMemo()
    memo.prefetch(session, msgs)
    results = [ingest(session, m, attachments=store, memo=memo) for m in msgs]
    memo.write(session)
    return results


def save_cursor(session: Session, account: str, cursor: str | None) -> None:
    row = session.get(ChannelCursor, account)
    if row is None:
        session.add(ChannelCursor(account=account, cursor=cursor))
    else:
        row.cursor = cursor


def load_cursor(session: Session, account: str) -> str | None:
    row = session.get(ChannelCursor, account)
    return row.cursor if row else None


def store_batch(heard: Heard, account: str, batch: Batch) -> list[IngestResult]:
    """Store a fetched batch and its cursor in one transaction, then enqueue routing."""
    store = AttachmentStore(heard.attachments_dir, heard.settings.store.inline_attachment_max)
    with heard.sessions() as session, session.begin(), session.no_autoflush:
        results = ingest_all(session, batch.messages, store)
        if batch.next_cursor is not None:
            save_cursor(session, account, batch.next_cursor)
    announce(heard, results)
    return results


def store_messages(heard: Heard, messages: Sequence[InboundMessage]) -> list[IngestResult]:
    """Store pushed messages (webhooks) with no cursor; committed before the caller answers."""
    store = AttachmentStore(heard.attachments_dir, heard.settings.store.inline_attachment_max)
    with heard.sessions() as session, session.begin(), session.no_autoflush:
        results = ingest_all(session, messages, store)
    announce(heard, results)
    return results


def announce(heard: Heard, results: Sequence[IngestResult]) -> None:
    """After commit: enqueue routing of the touched conversations and tell live views."""
    conversations = list(dict.fromkeys(r.conversation_id for r in results if r.created))
    if conversations and heard.queue is not None:
        heard.queue.enqueue("route_many", conversations)  # one job for the batch, not one each
    if conversations:
        from inbox import live

        live.publish(heard, {"type": "conversations", "ids": conversations})

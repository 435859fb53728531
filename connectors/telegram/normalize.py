"""Bot API `Update` JSON → `InboundMessage`. Pure: no I/O, never raises.

Works on the raw JSON (not PTB objects) so one broken update becomes a flagged message instead
of failing the whole `getUpdates` batch, and so polling and webhooks share one code path.

Conversations: a private chat is one conversation per Telegram user (`chat:<id>`); in groups
only messages that mention the bot, reply to it or command it are taken, one conversation per
group thread (forum topic, reply chain, else per customer within the group). Edits carry
`edit_of`. Files are returned as `FileRef`s for the connector to download.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inbox.types import AttachmentIn, InboundMessage, Sender, SenderKind

CHANNEL = "telegram"
GROUP_TYPES = frozenset({"group", "supergroup"})


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is, to tell whether a group message is addressed to it."""

    id: int
    username: str


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file the message carries; downloaded later through getFile."""

    file_id: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Normalized:
    message: InboundMessage
    files: Sequence[FileRef] = field(default_factory=tuple)


def update_id(update: Any) -> int | None:
    value = update.get("update_id") if isinstance(update, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normalize_update(update: Any, account: str, bot: BotIdentity | None) -> Normalized | None:
    """The message an update carries; None for updates that are not customer messages."""
    raw = _dump(update)
    uid = update_id(update)
    if uid is None:
        return Normalized(_flagged(account, raw, "update has no integer update_id", None))
    edited = "edited_message" in update and "message" not in update
    message = update.get("edited_message" if edited else "message")
    if message is None:
        return None  # callback queries, chat member changes, channel posts: not customer mail
    try:
        return _normalize_message(message, account, bot, raw, edited)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        return Normalized(_flagged(account, raw, f"unreadable message: {exc!r}", uid))


def _normalize_message(
    message: Mapping[str, Any], account: str, bot: BotIdentity | None, raw: bytes, edited: bool
) -> Normalized | None:
    chat = message["chat"]
    chat_id = int(chat["id"])
    chat_type = str(chat["type"])
    message_id = int(message["message_id"])
    user = message.get("from")
    if not isinstance(user, dict):
        return None  # anonymous channel/admin posts have no person to answer
    if chat_type in GROUP_TYPES and not _addressed_to_bot(message, bot):
        return None
    if chat_type not in GROUP_TYPES and chat_type != "private":
        return None
    base_id = f"{chat_id}:{message_id}"
    sender = Sender(handle=str(int(user["id"])), name=_full_name(user))
    files = _files(message)
    text = str(message.get("text") or message.get("caption") or "")
    is_bot = bool(user.get("is_bot"))
    thread = _thread(message, chat_id, chat_type, message_id, user)
    extras: dict[str, Any] = {"thread": thread, "chat_type": chat_type}
    if user.get("username"):
        extras["username"] = str(user["username"])
    if text.startswith("/"):
        extras["command"] = text.split()[0][1:].split("@")[0]
    edit_date = message.get("edit_date")
    inbound = InboundMessage(
        channel=CHANNEL,
        account=account,
        external_id=f"{base_id}:edit:{int(edit_date or 0)}" if edited else base_id,
        sender=sender,
        text=text,
        received_at=_when(edit_date if edited and edit_date else message["date"]),
        thread_keys=_thread_keys(message, chat_id, chat_type, message_id, user, bot),
        attachments=[
            AttachmentIn(f.filename, f.content_type, f.size, skipped_reason="not downloaded")
            for f in files
        ],
        raw=raw,
        sender_kind=SenderKind.AUTO_REPLY if is_bot else SenderKind.HUMAN,
        no_auto_reply_reason="the sender is a bot" if is_bot else None,
        edit_of=base_id if edited else None,
        extras=extras,
    )
    return Normalized(inbound, tuple(files))


def _addressed_to_bot(message: Mapping[str, Any], bot: BotIdentity | None) -> bool:
    if bot is None:
        return True
    reply = message.get("reply_to_message")
    if isinstance(reply, dict) and (reply.get("from") or {}).get("id") == bot.id:
        return True
    text = str(message.get("text") or message.get("caption") or "")
    handle = "@" + bot.username.lower()
    entities = message.get("entities") or message.get("caption_entities") or []
    for entity in entities:
        kind = entity.get("type")
        chunk = _entity_text(text, entity).lower()
        if kind == "mention" and chunk == handle:
            return True
        if kind == "text_mention" and (entity.get("user") or {}).get("id") == bot.id:
            return True
        if kind == "bot_command" and chunk.endswith(handle):
            return True
    return False


def _entity_text(text: str, entity: Mapping[str, Any]) -> str:
    # Bot API offsets count UTF-16 code units, not Python characters.
    encoded = text.encode("utf-16-le")
    start, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
    return encoded[start * 2 : (start + length) * 2].decode("utf-16-le", errors="replace")


def _thread_keys(
    message: Mapping[str, Any],
    chat_id: int,
    chat_type: str,
    message_id: int,
    user: Mapping[str, Any],
    bot: BotIdentity | None,
) -> list[str]:
    if chat_type == "private":
        return [f"chat:{chat_id}"]
    keys = [f"msg:{chat_id}:{message_id}"]
    reply = message.get("reply_to_message")
    if isinstance(reply, dict) and (bot is None or (reply.get("from") or {}).get("id") != bot.id):
        keys.append(f"msg:{chat_id}:{int(reply['message_id'])}")
    if message.get("is_topic_message") and message.get("message_thread_id"):
        keys.append(f"topic:{chat_id}:{int(message['message_thread_id'])}")
    else:
        # A reply to the bot cannot name the customer's first message (the Bot API does not
        # nest replies), so the customer's own thread in the group is the fallback key.
        keys.append(f"group:{chat_id}:user:{int(user['id'])}")
    return keys


def _thread(
    message: Mapping[str, Any],
    chat_id: int,
    chat_type: str,
    message_id: int,
    user: Mapping[str, Any],
) -> dict[str, Any]:
    thread: dict[str, Any] = {
        "recipient": str(chat_id),
        "chat_id": chat_id,
        "chat_type": chat_type,
        "reply_to_message_id": message_id,
        "user_id": int(user["id"]),
    }
    if message.get("is_topic_message") and message.get("message_thread_id"):
        thread["message_thread_id"] = int(message["message_thread_id"])
    return thread


def _files(message: Mapping[str, Any]) -> list[FileRef]:
    files: list[FileRef] = []
    photos = message.get("photo")
    if isinstance(photos, list) and photos:
        best = max(photos, key=lambda p: int(p.get("file_size") or 0) or int(p.get("width", 0)))
        files.append(_ref(best, f"photo-{best.get('file_unique_id', 'image')}.jpg", "image/jpeg"))
    if isinstance(message.get("document"), dict):
        doc = message["document"]
        files.append(_ref(doc, doc.get("file_name") or "document", "application/octet-stream"))
    if isinstance(message.get("voice"), dict):
        voice = message["voice"]
        files.append(_ref(voice, f"voice-{voice.get('file_unique_id', 'note')}.ogg", "audio/ogg"))
    for kind, default_type in (("audio", "audio/mpeg"), ("video", "video/mp4")):
        if isinstance(message.get(kind), dict):
            item = message[kind]
            files.append(_ref(item, item.get("file_name") or kind, default_type))
    return files


def _ref(item: Mapping[str, Any], filename: str, default_type: str) -> FileRef:
    return FileRef(
        file_id=str(item["file_id"]),
        filename=str(filename),
        content_type=str(item.get("mime_type") or default_type),
        size=int(item.get("file_size") or 0),
    )


def _full_name(user: Mapping[str, Any]) -> str:
    parts = [str(user.get("first_name") or ""), str(user.get("last_name") or "")]
    return " ".join(p for p in parts if p) or str(user.get("username") or "")


def _when(timestamp: Any) -> datetime:
    return datetime.fromtimestamp(int(timestamp), UTC)


def _dump(update: Any) -> bytes:
    try:
        return json.dumps(update, ensure_ascii=False, sort_keys=True).encode()
    except (TypeError, ValueError):
        return repr(update).encode()


def _flagged(account: str, raw: bytes, reason: str, uid: int | None) -> InboundMessage:
    """Keep what we could not read, visible to agents, never acknowledged (we cannot know who)."""
    digest = hashlib.sha256(raw).hexdigest()[:24]
    external_id = f"update:{uid}" if uid is not None else f"malformed:{digest}"
    return InboundMessage(
        channel=CHANNEL,
        account=account,
        external_id=external_id,
        sender=Sender(handle="unknown", name="Unreadable Telegram update"),
        text=f"This Telegram update could not be read ({reason}); the raw update is kept.",
        received_at=datetime.now(UTC),
        thread_keys=[f"malformed:{external_id}"],
        raw=raw,
        flags=("malformed",),
        no_auto_reply_reason="malformed update",
    )

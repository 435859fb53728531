"""X API JSON → `InboundMessage`. Pure: no I/O, never raises.

Mentions (v2 tweets) are public: one conversation per reply chain (`conv:<conversation_id>`,
plus `tweet:<id>` keys so Account Activity events, which lack conversation_id, find the same
chain). DMs are one conversation per participant (`dm:<user id>`). External ids are
`tweet:<id>` and `dm:<event id>`, so polling and webhooks dedupe against each other.
Anything we cannot read is kept raw and flagged for agents, never acknowledged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from inbox.types import AttachmentIn, InboundMessage, Sender

CHANNEL = "x"
Users = Mapping[str, Mapping[str, Any]]


def users_by_id(payload: Any) -> dict[str, Mapping[str, Any]]:
    includes = payload.get("includes") if isinstance(payload, dict) else None
    users = includes.get("users") if isinstance(includes, dict) else None
    return {str(u["id"]): u for u in users or [] if isinstance(u, dict) and "id" in u}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def items(payload: Any) -> list[Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    return data if isinstance(data, list) else []


def mentions(payload: Any, account: str, own_id: str) -> list[InboundMessage]:
    users = users_by_id(payload)
    found = (_guarded(mention, t, users, account, own_id) for t in items(payload))
    return oldest_first(m for m in found if m is not None)


def dm_events(
    events: Iterable[Any], users: Users, account: str, own_id: str
) -> list[InboundMessage]:
    found = (_guarded(dm_event, e, users, account, own_id) for e in events)
    return oldest_first(m for m in found if m is not None)


def _guarded(
    read: Callable[[Any, Users, str, str], InboundMessage | None],
    item: Any,
    users: Users,
    account: str,
    own_id: str,
) -> InboundMessage | None:
    """`read(item)`, or a flagged message when the item has a shape we did not expect."""
    try:
        return read(item, users, account, own_id)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return flagged(account, _dump(item), f"unexpected shape: {exc!r}")


def mention(tweet: Any, users: Users, account: str, own_id: str) -> InboundMessage | None:
    raw = _dump(tweet)
    if not isinstance(tweet, dict) or not _is_id(tweet.get("id")):
        return flagged(account, raw, "tweet without an id")
    author = str(tweet.get("author_id") or "")
    if author == own_id:
        return None
    refs = [r for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)]
    if any(r.get("type") == "retweeted" for r in refs):
        return None  # a retweet passes the mention on; it is not addressed to us
    tweet_id = str(tweet["id"])
    if not _is_id(author):
        return flagged(
            account, raw, "tweet without author_id", f"tweet:{tweet_id}", tweet.get("text")
        )
    user = users.get(author, {})
    conversation = str(tweet.get("conversation_id") or tweet_id)
    keys = [f"tweet:{tweet_id}", f"conv:{conversation}"]
    keys += [
        f"tweet:{r['id']}" for r in refs if r.get("type") == "replied_to" and _is_id(r.get("id"))
    ]
    thread = {
        "mode": "mention",
        "recipient": author,
        "tweet_id": tweet_id,
        "conversation_id": conversation,
        "username": str(user.get("username") or ""),
    }
    return InboundMessage(
        channel=CHANNEL,
        account=account,
        external_id=f"tweet:{tweet_id}",
        sender=Sender(handle=author, name=str(user.get("name") or user.get("username") or "")),
        text=str(tweet.get("text") or ""),
        received_at=_iso(tweet.get("created_at")),
        thread_keys=keys,
        raw=raw,
        is_public=True,
        extras={
            "thread": thread,
            "username": thread["username"],
            "public_url": _url(user, tweet_id),
        },
    )


def dm_event(event: Any, users: Users, account: str, own_id: str) -> InboundMessage | None:
    raw = _dump(event)
    if not isinstance(event, dict) or not _is_id(event.get("id")):
        return flagged(account, raw, "DM event without an id")
    if event.get("event_type", "MessageCreate") != "MessageCreate":
        return None  # participants joining or leaving a group DM
    sender = str(event.get("sender_id") or "")
    if sender == own_id:
        return None  # our own replies come back in the DM list
    event_id = str(event["id"])
    if not _is_id(sender):
        return flagged(account, raw, "DM without sender_id", f"dm:{event_id}", event.get("text"))
    user = users.get(sender, {})
    media = (event.get("attachments") or {}).get("media_keys") or []
    return _dm(
        account,
        event_id,
        sender,
        user,
        str(event.get("text") or ""),
        _iso(event.get("created_at")),
        raw,
        str(event.get("dm_conversation_id") or ""),
        len(media),
    )


def activity(payload: Any, account: str, own_id: str) -> list[InboundMessage]:
    """Account Activity API events (v1.1 shapes): tweet_create_events and direct_message_events."""
    if not isinstance(payload, dict):
        return [flagged(account, _dump(payload), "webhook body is not a JSON object")]
    own = str(payload.get("for_user_id") or own_id)
    users = payload.get("users") if isinstance(payload.get("users"), dict) else {}
    found: list[InboundMessage | None] = []
    for tweet in _as_list(payload.get("tweet_create_events")):
        found.append(_guarded(_v1_tweet, tweet, users or {}, account, own))
    for event in _as_list(payload.get("direct_message_events")):
        found.append(_guarded(_v1_dm, event, users or {}, account, own))
    return oldest_first(m for m in found if m is not None)


def _v1_tweet(tweet: Any, users: Users, account: str, own: str) -> InboundMessage | None:
    raw = _dump(tweet)
    try:
        tweet_id = str(tweet["id_str"])
        user = tweet["user"]
        author = str(user["id_str"])
    except (KeyError, TypeError):
        return flagged(account, raw, "tweet event without id_str or user")
    if author == own or "retweeted_status" in tweet:
        return None
    extended = tweet.get("extended_tweet") or {}
    text = extended.get("full_text") or tweet.get("full_text") or tweet.get("text") or ""
    keys = [f"tweet:{tweet_id}"]
    if tweet.get("in_reply_to_status_id_str"):
        keys.append(f"tweet:{tweet['in_reply_to_status_id_str']}")
    else:
        keys.append(f"conv:{tweet_id}")  # a new chain: v2 calls its root the conversation_id
    thread = {
        "mode": "mention",
        "recipient": author,
        "tweet_id": tweet_id,
        "username": str(user.get("screen_name") or ""),
    }
    return InboundMessage(
        channel=CHANNEL,
        account=account,
        external_id=f"tweet:{tweet_id}",
        sender=Sender(handle=author, name=str(user.get("name") or "")),
        text=str(text),
        received_at=_v1_time(tweet.get("created_at")),
        thread_keys=keys,
        raw=raw,
        is_public=True,
        extras={"thread": thread, "username": thread["username"]},
    )


def _v1_dm(event: Any, users: Users, account: str, own: str) -> InboundMessage | None:
    raw = _dump(event)
    try:
        event_id = str(event["id"])
        create = event["message_create"]
        sender = str(create["sender_id"])
    except (KeyError, TypeError):
        return flagged(account, raw, "DM event without id or message_create")
    if sender == own or event.get("type", "message_create") != "message_create":
        return None
    data = create.get("message_data") or {}
    user = users.get(sender, {})
    profile = {"name": user.get("name"), "username": user.get("screen_name")}
    when = _epoch_ms(event.get("created_timestamp"))
    media = 1 if data.get("attachment") else 0
    return _dm(
        account, event_id, sender, profile, str(data.get("text") or ""), when, raw, "", media
    )


def _dm(
    account: str,
    event_id: str,
    sender: str,
    user: Mapping[str, Any],
    text: str,
    when: datetime,
    raw: bytes,
    dm_conversation: str,
    media: int,
) -> InboundMessage:
    thread = {"mode": "dm", "recipient": sender, "participant_id": sender}
    if dm_conversation:
        thread["dm_conversation_id"] = dm_conversation
    attachments = [
        AttachmentIn(
            "x-media",
            "application/octet-stream",
            0,
            skipped_reason="X media is not downloaded; open it on X",
        )
        for _ in range(media)
    ]
    return InboundMessage(
        channel=CHANNEL,
        account=account,
        external_id=f"dm:{event_id}",
        sender=Sender(handle=sender, name=str(user.get("name") or user.get("username") or "")),
        text=text,
        received_at=when,
        thread_keys=[f"dm:{sender}"],
        attachments=attachments,
        raw=raw,
        extras={"thread": thread, "username": str(user.get("username") or "")},
    )


def flagged(
    account: str, raw: bytes, reason: str, external_id: str | None = None, text: Any = None
) -> InboundMessage:
    """Keep what we could not read for agents; never acknowledge it (we cannot know who wrote)."""
    external_id = external_id or f"malformed:{hashlib.sha256(raw).hexdigest()[:24]}"
    body = f"This X item could not be read ({reason}); the raw JSON is kept."
    if isinstance(text, str) and text:
        body += f"\n\n{text}"
    return InboundMessage(
        channel=CHANNEL,
        account=account,
        external_id=external_id,
        sender=Sender(handle="unknown", name="Unreadable X item"),
        text=body,
        received_at=datetime.now(UTC),
        thread_keys=[f"malformed:{external_id}"],
        raw=raw,
        flags=("malformed",),
        no_auto_reply_reason="malformed item",
    )


def oldest_first(found: Iterable[InboundMessage]) -> list[InboundMessage]:
    def order(m: InboundMessage) -> int:
        tail = m.external_id.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    return sorted(found, key=order)


def _is_id(value: Any) -> bool:
    return (isinstance(value, str) and value.isdigit()) or (isinstance(value, int) and value > 0)


def _url(user: Mapping[str, Any], tweet_id: str) -> str:
    return f"https://x.com/{user.get('username') or 'i'}/status/{tweet_id}"


def _iso(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _v1_time(value: Any) -> datetime:
    try:
        return parsedate_to_datetime(str(value)).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def _epoch_ms(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(UTC)


def _dump(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    except (TypeError, ValueError):
        return repr(value).encode()

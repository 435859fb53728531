"""Sending on X: reply tweets with the 280 check, DMs, windows, blocked recipients."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.x.connector import XConnector
from connectors.x.textlen import weighted_length
from inbox.errors import (
    AuthError,
    MessageTooLong,
    PermanentError,
    RateLimitError,
    RecipientError,
)
from inbox.types import AttachmentOut, MessageKind, OutboundMessage
from tests.fakes.x_api import FakeX

ADA = "2244994945"
TWEETS = "POST /2/tweets"
DM_SEND = "POST /2/dm_conversations/with/:id/messages"


def reply(text: str, key: str = "k1", **thread: Any) -> OutboundMessage:
    return OutboundMessage(
        account="x-support",
        conversation_id=1,
        reference="R-1001",
        recipient=ADA,
        text=text,
        kind=MessageKind.MESSAGE,
        idempotency_key=key,
        in_reply_to=thread.pop("in_reply_to", "tweet:1578516295611748353"),
        thread={"mode": "mention", "tweet_id": "1578516295611748353", **thread},
    )


def dm(text: str, key: str = "d1") -> OutboundMessage:
    return OutboundMessage(
        account="x-support",
        conversation_id=2,
        reference="R-1002",
        recipient=ADA,
        text=text,
        kind=MessageKind.ACK,
        idempotency_key=key,
        in_reply_to="dm:1585800613253812228",
        thread={"mode": "dm", "participant_id": ADA},
    )


async def test_reply_to_a_mention_is_a_reply_tweet(x: XConnector, fake_x: FakeX) -> None:
    delivery = await x.send(reply("@ada_l Sorry about that! Priya is on it, expect news by 3pm."))
    (tweet,) = fake_x.tweets
    assert tweet["reply"] == {"in_reply_to_tweet_id": "1578516295611748353"}
    assert delivery.external_id == f"tweet:{tweet['id']}"


async def test_too_long_reply_is_refused_before_calling_x(x: XConnector, fake_x: FakeX) -> None:
    with pytest.raises(MessageTooLong, match="281 characters and X allows 280"):
        await x.send(reply("a" * 281))
    assert fake_x.tweets == [] and not fake_x.calls(TWEETS)


def test_length_is_weighted_as_x_counts_it() -> None:
    assert weighted_length("a" * 280) == 280
    assert weighted_length("日本語") == 6  # CJK counts double
    assert weighted_length("see https://example.com/" + "x" * 100) == 4 + 23
    assert weighted_length("👩\u200d💻") == 2  # one joined emoji


async def test_dm_goes_to_the_participant(x: XConnector, fake_x: FakeX) -> None:
    delivery = await x.send(dm("We got your message, Ada. Priya will answer by 3pm."))
    (sent,) = fake_x.dms_sent
    assert sent["participant_id"] == ADA and sent["text"].startswith("We got your message")
    assert delivery.external_id == f"dm:{sent['id']}"


async def test_same_idempotency_key_sends_once(x: XConnector, fake_x: FakeX) -> None:
    first = await x.send(dm("only once", key="same"))
    second = await x.send(dm("only once", key="same"))
    assert first == second and len(fake_x.dms_sent) == 1


async def test_send_waits_for_the_window_instead_of_being_refused(
    x: XConnector, fake_x: FakeX
) -> None:
    fake_x.set_window(DM_SEND, remaining=1, reset_in=300)
    await x.send(dm("last one in this window", key="a"))
    with pytest.raises(RateLimitError, match="waiting") as raised:
        await x.send(dm("next one", key="b"))
    assert 290 < raised.value.retry_after <= 300
    assert len(fake_x.calls(DM_SEND)) == 1  # the refused send never reached X


async def test_429_on_send_carries_the_reset_delay(x: XConnector, fake_x: FakeX) -> None:
    fake_x.fail_next(TWEETS, 429, headers={"x-rate-limit-reset": str(int(time.time()) + 45)})
    with pytest.raises(RateLimitError) as raised:
        await x.send(reply("hello"))
    assert 35 < raised.value.retry_after <= 45


async def test_dm_refused_by_the_user_is_a_recipient_error(x: XConnector, fake_x: FakeX) -> None:
    fake_x.blocked_dm.add(ADA)
    with pytest.raises(RecipientError, match="cannot send messages"):
        await x.send(dm("hello?"))


async def test_revoked_token_is_an_auth_error(x: XConnector, fake_x: FakeX) -> None:
    fake_x.revoked = True
    with pytest.raises(AuthError):
        await x.send(dm("hello?"))


async def test_attachments_are_refused_visibly_not_dropped(x: XConnector, fake_x: FakeX) -> None:
    files = (AttachmentOut("label.pdf", "application/pdf", b"%PDF"),)
    with pytest.raises(PermanentError, match="cannot carry attachments"):
        await x.send(OutboundMessage(**{**_fields(dm("see file")), "attachments": files}))
    assert fake_x.dms_sent == []


def _fields(message: OutboundMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in OutboundMessage.__slots__}

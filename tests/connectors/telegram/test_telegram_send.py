"""Sending: split at 4,096, reply to the customer's message, files, flood control, blocked bot."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.telegram.connector import TelegramConnector
from connectors.telegram.split import split_text, utf16_len
from inbox.errors import AuthError, RateLimitError, RecipientError
from inbox.types import AttachmentOut, MessageKind, OutboundMessage
from tests.fakes.telegram_api import FakeTelegram


def outbound(text: str, key: str = "k1", chat_id: int = 51, **extra: Any) -> OutboundMessage:
    return OutboundMessage(
        account="bot",
        conversation_id=1,
        reference="R-1001",
        recipient=str(chat_id),
        text=text,
        kind=MessageKind.MESSAGE,
        idempotency_key=key,
        in_reply_to=f"{chat_id}:17",
        thread={"chat_id": chat_id, "recipient": str(chat_id)},
        **extra,
    )


async def test_reply_goes_to_the_chat_as_a_reply_to_the_customer_message(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    delivery = await telegram.send(outbound("Thanks, Ada. Priya has your case."))
    (call,) = fake_telegram.sent()
    assert call.params["chat_id"] == 51
    assert call.params["text"] == "Thanks, Ada. Priya has your case."
    assert call.params["reply_parameters"]["message_id"] == 17
    assert delivery.external_id.startswith("51:")


async def test_long_text_is_split_below_4096_and_only_the_first_piece_replies(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    paragraph = ("word " * 300).strip()
    text = "\n\n".join([paragraph] * 5)  # about 7,500 characters
    delivery = await telegram.send(outbound(text))
    calls = fake_telegram.sent()
    assert len(calls) == len(split_text(text)) >= 2
    assert all(utf16_len(c.params["text"]) <= 4096 for c in calls)
    assert " ".join(c.params["text"] for c in calls).split() == text.split()
    assert "reply_parameters" in calls[0].params and "reply_parameters" not in calls[1].params
    assert len(delivery.extras["message_ids"]) == len(calls)


def test_split_counts_utf16_units_and_never_cuts_inside_a_word() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units, no spaces
    pieces = split_text(text)
    assert [utf16_len(p) for p in pieces] == [4096, 6000 - 4096]
    words = "alpha beta " * 1000
    assert all(not p.endswith("alph") for p in split_text(words))
    assert split_text("short") == ["short"]


async def test_flood_control_becomes_rate_limit_and_retry_continues_where_it_stopped(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    text = "\n\n".join([("word " * 300).strip()] * 5)
    pieces = split_text(text)
    # Bot API: 429 carries parameters.retry_after; the first piece goes through.
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 17", 17, after=1)
    with pytest.raises(RateLimitError) as raised:
        await telegram.send(outbound(text, key="long"))
    assert raised.value.retry_after == 17
    delivery = await telegram.send(outbound(text, key="long"))
    texts = [c.params["text"] for c in fake_telegram.sent()]
    # piece 1, refused piece 2, then piece 2 onwards: piece 1 is not sent twice
    assert texts == [pieces[0], pieces[1], *pieces[1:]]
    assert len(delivery.extras["message_ids"]) == len(pieces)
    again = await telegram.send(outbound(text, key="long"))
    assert again == delivery and len(fake_telegram.sent()) == len(texts)


async def test_blocked_bot_is_a_permanent_recipient_error(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.blocked.add(51)
    with pytest.raises(RecipientError, match="blocked"):
        await telegram.send(outbound("hello?"))


async def test_revoked_token_is_an_auth_error(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.revoked = True
    with pytest.raises(AuthError):
        await telegram.send(outbound("hello?"))


async def test_attachments_go_as_photo_or_document(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    files = [
        AttachmentOut("label.png", "image/png", b"\x89PNG..."),
        AttachmentOut("refund.pdf", "application/pdf", b"%PDF-1.7"),
    ]
    await telegram.send(outbound("Here is your label and refund note.", attachments=files))
    text, photo, document = fake_telegram.sent()
    assert text.method == "sendMessage"
    assert photo.method == "sendPhoto" and photo.files["photo"] == ("label.png", b"\x89PNG...")
    assert document.method == "sendDocument"
    assert document.files["document"] == ("refund.pdf", b"%PDF-1.7")


async def test_group_reply_stays_in_its_forum_topic(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    message = outbound("On it", chat_id=-100123)
    message = OutboundMessage(
        **{**_fields(message), "thread": {"chat_id": -100123, "message_thread_id": 5}}
    )
    await telegram.send(message)
    (call,) = fake_telegram.sent()
    assert call.params["chat_id"] == -100123 and call.params["message_thread_id"] == 5


def _fields(message: OutboundMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in OutboundMessage.__slots__}

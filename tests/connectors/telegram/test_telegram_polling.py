"""Polling: getUpdates offset as the cursor, resume without duplicates, edits, files, groups."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.telegram.connector import TelegramConnector
from inbox.errors import TransientError
from tests.fakes.telegram_api import FakeTelegram


async def test_private_message_becomes_one_conversation_per_user(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_message("/start", user_id=51)
    fake_telegram.add_message("My parcel is late", user_id=51)
    batch = await telegram.fetch(None, 100)
    assert [m.text for m in batch.messages] == ["/start", "My parcel is late"]
    first, second = batch.messages
    assert first.thread_keys == second.thread_keys == ["chat:51"]
    assert first.sender.handle == "51" and first.sender.name == "Ada"
    assert first.extras["command"] == "start" and first.wants_auto_reply
    assert second.extras["thread"]["chat_id"] == 51
    assert batch.next_cursor == str(fake_telegram.updates[-1]["update_id"] + 1)


async def test_resume_after_crash_rereads_unsaved_updates_and_skips_saved_ones(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_message("one")
    first = await telegram.fetch(None, 100)
    # Crash before the cursor was saved: the same cursor gives the same messages again.
    again = await telegram.fetch(None, 100)
    assert [m.external_id for m in again.messages] == [m.external_id for m in first.messages]
    fake_telegram.add_message("two")
    after = await telegram.fetch(first.next_cursor, 100)
    assert [m.text for m in after.messages] == ["two"]
    assert (await telegram.fetch(after.next_cursor, 100)).messages == []


async def test_dropped_connection_is_transient_and_loses_nothing(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_message("are you there?")
    fake_telegram.drop_next("getUpdates")
    with pytest.raises(TransientError):
        await telegram.fetch(None, 100)
    batch = await telegram.fetch(None, 100)
    assert [m.text for m in batch.messages] == ["are you there?"]


async def test_edit_points_at_the_original_message(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    original = fake_telegram.add_message("teh order 123")
    fake_telegram.add_edit(original, "the order 123")
    first, edit = (await telegram.fetch(None, 100)).messages
    assert edit.edit_of == first.external_id
    assert edit.text == "the order 123" and edit.external_id != first.external_id


async def test_photo_document_and_voice_are_downloaded_through_the_file_endpoint(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_file("ph-big", b"\xff\xd8jpeg-bytes", "photos/file_1.jpg")
    fake_telegram.add_file("doc-1", b"%PDF-1.4 invoice", "documents/file_2.pdf")
    fake_telegram.add_file("voice-1", b"OggS voice", "voice/file_3.oga")
    photo = [
        {"file_id": "ph-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 10},
        {"file_id": "ph-big", "file_unique_id": "b", "width": 800, "height": 800, "file_size": 12},
    ]
    fake_telegram.add_message("", photo=photo, caption="broken on arrival")
    document = {
        "file_id": "doc-1",
        "file_unique_id": "d",
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
        "file_size": 16,
    }
    fake_telegram.add_message("", document=document)
    voice = {
        "file_id": "voice-1",
        "file_unique_id": "v",
        "duration": 3,
        "mime_type": "audio/ogg",
        "file_size": 10,
    }
    fake_telegram.add_message("", voice=voice)
    photo_msg, doc_msg, voice_msg = (await telegram.fetch(None, 100)).messages
    assert photo_msg.text == "broken on arrival"
    assert [a.data for a in photo_msg.attachments] == [b"\xff\xd8jpeg-bytes"]
    assert doc_msg.attachments[0].filename == "invoice.pdf"
    assert doc_msg.attachments[0].content_type == "application/pdf"
    assert doc_msg.attachments[0].data == b"%PDF-1.4 invoice"
    assert voice_msg.attachments[0].content_type == "audio/ogg"
    assert voice_msg.attachments[0].data == b"OggS voice"


async def test_files_over_the_limit_are_kept_as_skipped_attachments(
    fake_telegram: FakeTelegram,
) -> None:
    from tests.connectors.telegram.conftest import telegram_config

    fake_telegram.add_file("doc-big", b"x" * 5000, "documents/big.bin")
    document = {
        "file_id": "doc-big",
        "file_unique_id": "d",
        "file_name": "big.bin",
        "file_size": 5000,
    }
    fake_telegram.add_message("see attached", document=document)
    async with TelegramConnector(telegram_config(fake_telegram, max_attachment_size=1000)) as bot:
        (message,) = (await bot.fetch(None, 100)).messages
    (attachment,) = message.attachments
    assert attachment.data is None and attachment.size == 5000
    assert attachment.skipped_reason == "larger than the 1000 bytes limit"
    assert not [c for c in fake_telegram.calls if c.method == "getFile"]


async def test_group_messages_are_taken_only_when_addressed_to_the_bot(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    group = -100123
    fake_telegram.add_message(
        "chatting among ourselves", user_id=7, chat_id=group, chat_type="supergroup"
    )
    text = "@heard_test_bot my invoice is wrong"
    mention = fake_telegram.add_message(
        text,
        user_id=7,
        chat_id=group,
        chat_type="supergroup",
        entities=[{"type": "mention", "offset": 0, "length": 15}],
    )
    bot_reply = {
        "message_id": 900,
        "date": 1,
        "chat": {"id": group, "type": "supergroup"},
        "from": fake_telegram.bot,
        "text": "We are on it",
    }
    fake_telegram.add_message(
        "thanks, any news?",
        user_id=7,
        chat_id=group,
        chat_type="supergroup",
        reply_to_message=bot_reply,
    )
    messages = (await telegram.fetch(None, 100)).messages
    assert [m.text for m in messages] == [text, "thanks, any news?"]
    first, follow_up = messages
    shared = set(first.thread_keys) & set(follow_up.thread_keys)
    assert shared == {f"group:{group}:user:7"}
    assert first.extras["thread"]["reply_to_message_id"] == mention["message"]["message_id"]
    assert first.extras["thread"]["chat_id"] == group


async def test_unreadable_update_is_flagged_and_the_batch_goes_on(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_update({"message": {"message_id": "x", "chat": "nope"}})
    fake_telegram.add_message("still here")
    bad, good = (await telegram.fetch(None, 100)).messages
    assert bad.flags == ("malformed",) and not bad.wants_auto_reply
    assert b'"chat": "nope"' in bad.raw
    assert good.text == "still here"


async def test_other_bots_are_never_acknowledged(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.add_message("beep")
    update["message"]["from"]["is_bot"] = True
    (message,) = (await telegram.fetch(None, 100)).messages
    assert not message.wants_auto_reply


async def test_long_poll_returns_as_soon_as_a_customer_writes(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_message("old")
    batch = await telegram.fetch(None, 100)
    waiting = asyncio.create_task(telegram.wait_for_news(30))
    started = time.monotonic()
    fake_telegram.add_message("new")
    await asyncio.wait_for(waiting, 10)
    assert time.monotonic() - started < 10
    (call,) = [c for c in fake_telegram.calls if c.params.get("timeout")]
    assert call.params["offset"] == int(batch.next_cursor or 0) and call.params["timeout"] == 30
    assert [m.text for m in (await telegram.fetch(batch.next_cursor, 100)).messages] == ["new"]

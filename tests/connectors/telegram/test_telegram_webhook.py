"""Webhook mode: the secret header (403 when wrong), parsing, setWebhook on start."""

from __future__ import annotations

import json

import pytest

from connectors.telegram.connector import TelegramConnector
from connectors.telegram.errors import WrongSecret
from inbox.errors import SignatureError
from tests.connectors.telegram.conftest import telegram_config
from tests.fakes.telegram_api import FakeTelegram

SECRET = "s3cret-token_1"


@pytest.fixture
def hooked(fake_telegram: FakeTelegram) -> TelegramConnector:
    return TelegramConnector(
        telegram_config(fake_telegram, mode="webhook", webhook_secret=SECRET),
        public_url="https://support.example.com",
    )


def test_wrong_or_missing_secret_is_refused_with_403(hooked: TelegramConnector) -> None:
    body = b"{}"
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
        with pytest.raises(SignatureError) as raised:
            hooked.verify(headers, body)
        assert isinstance(raised.value, WrongSecret) and raised.value.status == 403
    hooked.verify({"x-telegram-bot-api-secret-token": SECRET}, body)


def test_webhook_mode_requires_a_secret(fake_telegram: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="webhook_secret"):
        telegram_config(fake_telegram, mode="webhook")


def test_parse_reads_the_update_and_flags_garbage(
    hooked: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    update = {"update_id": 5, "message": fake_telegram.message("Hi from the webhook", user_id=9)}
    (message,) = hooked.parse({}, json.dumps(update).encode())
    assert message.text == "Hi from the webhook" and message.thread_keys == ["chat:9"]
    (garbage,) = hooked.parse({}, b"\xff not json")
    assert garbage.flags == ("malformed",) and "not json" in garbage.raw.decode()


async def test_start_sets_the_webhook_with_secret_and_url(
    hooked: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    async with hooked:
        await hooked.on_start("https://support.example.com/")
        assert (await hooked.fetch("12", 100)).messages == []  # webhook mode never polls
    assert fake_telegram.webhook["url"] == "https://support.example.com/hooks/telegram/bot"
    assert fake_telegram.webhook["secret_token"] == SECRET
    assert not [c for c in fake_telegram.calls if c.method == "getUpdates"]


async def test_polling_mode_removes_a_stale_webhook_on_start(
    telegram: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.webhook = {"url": "https://old.example.com/hook"}
    await telegram.on_start(None)
    assert fake_telegram.webhook == {}


async def test_webhook_files_are_downloaded_by_complete(
    hooked: TelegramConnector, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.add_file("doc-9", b"receipt", "documents/r.txt")
    document = {"file_id": "doc-9", "file_unique_id": "u9", "file_name": "r.txt", "file_size": 7}
    update = {
        "update_id": 6,
        "message": fake_telegram.message("", document=document, caption="receipt"),
    }
    parsed = hooked.parse({}, json.dumps(update).encode())
    assert parsed[0].attachments[0].data is None
    async with hooked:
        (done,) = await hooked.complete(parsed)
    assert done.attachments[0].data == b"receipt" and "telegram_files" not in done.extras

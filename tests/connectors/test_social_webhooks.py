"""Telegram and X webhooks over real HTTP: secrets, CRC, signatures, files, then the ack."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from inbox.app import Heard
from inbox.models import Attachment, Message
from inbox.web.app import make_app
from tests.conftest import MakeHeard
from tests.connectors.test_social_e2e import TEAM
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.x_api import FakeX

SECRET = "hook-secret_42"
CONSUMER_SECRET = "test-consumer-secret"


def hooked_toml(telegram: FakeTelegram, x: FakeX) -> str:
    return (
        TEAM
        + f"""
[[channels]]
type = "telegram"
name = "bot"
token = "{telegram.token}"
api_base_url = "{telegram.url}"
mode = "webhook"
webhook_secret = "{SECRET}"

[[channels]]
type = "x"
name = "x-support"
account = "HeardSupport"
consumer_key = "{x.consumer_key}"
consumer_secret = "{CONSUMER_SECRET}"
access_token = "{x.access_token}"
access_token_secret = "test-access-secret"
api_base_url = "{x.url}"
"""
    )


async def client_for(heard: Heard) -> TestClient:  # type: ignore[type-arg]
    client = TestClient(TestServer(make_app(heard)))
    await client.start_server()
    return client


def stored(heard: Heard) -> int:
    with heard.sessions() as session:
        return int(
            session.scalar(select(func.count(Message.id)).where(Message.direction == "in")) or 0
        )


async def test_telegram_webhook_checks_the_secret_downloads_files_and_acknowledges(
    make_heard: MakeHeard, fake_telegram: FakeTelegram, fake_x: FakeX, tmp_path: Path
) -> None:
    heard = make_heard(hooked_toml(fake_telegram, fake_x), f"sqlite:///{tmp_path / 'h.db'}")
    client = await client_for(heard)
    fake_telegram.add_file("doc-1", b"%PDF receipt", "documents/receipt.pdf")
    document = {
        "file_id": "doc-1",
        "file_unique_id": "d1",
        "file_name": "receipt.pdf",
        "mime_type": "application/pdf",
        "file_size": 12,
    }
    update = {
        "update_id": 1,
        "message": fake_telegram.message(
            "", user_id=61, document=document, caption="charged twice"
        ),
    }
    body = json.dumps(update).encode()
    wrong = await client.post(
        "/hooks/telegram/bot", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
    )
    assert wrong.status == 403 and stored(heard) == 0
    right = await client.post(
        "/hooks/telegram/bot", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert right.status == 200 and (await right.json())["stored"] == 1
    await asyncio.to_thread(heard.queue.drain)
    with heard.sessions() as session:
        (attachment,) = session.scalars(select(Attachment)).all()
        assert attachment.filename == "receipt.pdf" and attachment.size == 12
    (ack,) = fake_telegram.sent()
    assert ack.params["chat_id"] == 61 and "Ann Smith will reply by" in ack.params["text"]
    await client.close()


async def test_x_webhook_answers_crc_and_stores_only_signed_events(
    make_heard: MakeHeard, fake_telegram: FakeTelegram, fake_x: FakeX, tmp_path: Path
) -> None:
    heard = make_heard(hooked_toml(fake_telegram, fake_x), f"sqlite:///{tmp_path / 'h.db'}")
    client = await client_for(heard)
    crc = await client.get("/hooks/x/x-support", params={"crc_token": "abc"})
    digest = hmac.new(CONSUMER_SECRET.encode(), b"abc", hashlib.sha256).digest()
    assert (await crc.json()) == {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    event = {
        "for_user_id": fake_x.me["id"],
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "954491830116155396",
                "created_timestamp": str(int(time.time() * 1000)),  # fresh: it gets an ack
                "message_create": {
                    "target": {"recipient_id": fake_x.me["id"]},
                    "sender_id": "783214",
                    "message_data": {"text": "Hi from a DM"},
                },
            }
        ],
    }
    body = json.dumps(event).encode()
    unsigned = await client.post("/hooks/x/x-support", data=body)
    assert unsigned.status == 401 and stored(heard) == 0
    signature = (
        "sha256="
        + base64.b64encode(
            hmac.new(CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode()
    )
    signed = await client.post(
        "/hooks/x/x-support", data=body, headers={"x-twitter-webhooks-signature": signature}
    )
    assert signed.status == 200 and stored(heard) == 1
    await asyncio.to_thread(heard.queue.drain)
    (ack,) = fake_x.dms_sent
    assert ack["participant_id"] == "783214"
    await client.close()

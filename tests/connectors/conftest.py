"""Contract harnesses: one fixture per channel gives the contract suite what it needs.

To put a new connector under the contract (tests/connectors/test_contract.py), write one
`<kind>_harness` fixture returning a `Harness` (its connector opened against a real or fake
peer, plus the peer's controls) and add the kind to `CONTRACT_CHANNELS`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import pytest

from connectors.base import Connector
from connectors.telegram.connector import TelegramConnector
from connectors.x.connector import XConnector
from inbox.types import MessageKind, OutboundMessage
from tests.connectors.email.fixtures import dovecot, email_harness, mailbox, smtp, smtp_server
from tests.connectors.telegram.conftest import fake_telegram, telegram_config
from tests.connectors.x.conftest import fake_x, x_config
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.x_api import FakeX

__all__ = [  # fixtures shared with the channel folders
    "dovecot",
    "email_harness",
    "fake_telegram",
    "fake_x",
    "mailbox",
    "smtp",
    "smtp_server",
]

CONTRACT_CHANNELS = ["telegram", "x", "email"]


@dataclass
class Harness:
    """One channel under contract: its opened connector and the peer's controls."""

    connector: Connector
    outbound: Callable[[str, str], OutboundMessage]  # (text, idempotency key) → a reply
    sends_seen: Callable[[], int]  # sends the peer received
    refuse_next_send: Callable[[int, float], None]  # (HTTP status, retry after s)
    revoke: Callable[[], None]  # the peer rejects our credentials from now on
    add_inbound: Callable[[str], object] | None = None  # pull channels: a customer writes
    drop_next_fetch: Callable[[], None] | None = None  # the peer hangs up mid-answer
    add_malformed: Callable[[], object] | None = None  # the peer hands over garbage
    malformed_push: tuple[Mapping[str, str], bytes] | None = None  # push-only channels


def _reply(account: str, recipient: str, text: str, key: str, **thread: object) -> OutboundMessage:
    return OutboundMessage(
        account=account,
        conversation_id=1,
        reference="R-1001",
        recipient=recipient,
        text=text,
        kind=MessageKind.MESSAGE,
        idempotency_key=key,
        thread=dict(thread),
    )


@pytest.fixture
async def telegram_harness(fake_telegram: FakeTelegram) -> AsyncIterator[Harness]:
    connector = TelegramConnector(telegram_config(fake_telegram))
    fake = fake_telegram
    async with connector:
        yield Harness(
            connector=connector,
            outbound=lambda text, key: _reply("bot", "51", text, key, chat_id=51),
            sends_seen=lambda: len(fake.sent()),
            refuse_next_send=lambda status, delay: fake.fail_next(
                "sendMessage", status, "Too Many Requests", int(delay)
            ),
            revoke=lambda: setattr(fake, "revoked", True),
            add_inbound=lambda text: fake.add_message(text),
            drop_next_fetch=lambda: fake.drop_next("getUpdates"),
            add_malformed=lambda: fake.add_update({"message": {"chat": None}}),
        )


@pytest.fixture
async def x_harness(fake_x: FakeX) -> AsyncIterator[Harness]:
    connector = XConnector(x_config(fake_x))
    fake = fake_x
    send_route = "POST /2/dm_conversations/with/:id/messages"

    def refuse(status: int, delay: float) -> None:
        fake.fail_next(
            send_route, status, headers={"x-rate-limit-reset": str(int(time.time() + delay))}
        )

    def drop() -> None:
        # aiohttp retries an idempotent GET once on a reused connection: hang up twice.
        fake.drop_next("GET /2/users/:id/mentions")
        fake.drop_next("GET /2/users/:id/mentions")

    def garbage() -> None:
        with fake.lock:
            fake.mentions.insert(0, {"id": fake.next_id(), "text": "no author", "author_id": None})

    async with connector:
        yield Harness(
            connector=connector,
            outbound=lambda text, key: _reply(
                "x-support", "783214", text, key, mode="dm", participant_id="783214"
            ),
            sends_seen=lambda: len(fake.dms_sent),
            refuse_next_send=refuse,
            revoke=lambda: setattr(fake, "revoked", True),
            add_inbound=lambda text: fake.add_dm("783214", text),
            drop_next_fetch=drop,
            add_malformed=garbage,
        )

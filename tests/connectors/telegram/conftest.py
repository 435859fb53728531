"""A fake Bot API per test and a Telegram connector opened against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from connectors.telegram.config import TelegramConfig
from connectors.telegram.connector import TelegramConnector
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def telegram_config(fake: FakeTelegram, **overrides: Any) -> TelegramConfig:
    values: dict[str, Any] = {"name": "bot", "token": fake.token, "api_base_url": fake.url}
    return TelegramConfig(**{**values, **overrides})


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramConnector]:
    connector = TelegramConnector(telegram_config(fake_telegram))
    async with connector:
        yield connector

"""A fake X API per test and an X connector opened against it through tweepy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from connectors.x.config import XConfig
from connectors.x.connector import XConnector
from tests.fakes.x_api import FakeX

CONSUMER_SECRET = "test-consumer-secret"


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as fake:
        fake.add_user("2244994945", "ada_l", "Ada Lovelace")
        fake.add_user("783214", "grace_h", "Grace Hopper")
        yield fake


def x_config(fake: FakeX, **overrides: Any) -> XConfig:
    values: dict[str, Any] = {
        "name": "x-support",
        "account": "@HeardSupport",
        "bearer_token": fake.bearer_token,
        "consumer_key": fake.consumer_key,
        "consumer_secret": CONSUMER_SECRET,
        "access_token": fake.access_token,
        "access_token_secret": "test-access-secret",
        "api_base_url": fake.url,
    }
    return XConfig(**{**values, **overrides})


@pytest.fixture
async def x(fake_x: FakeX) -> AsyncIterator[XConnector]:
    connector = XConnector(x_config(fake_x))
    async with connector:
        yield connector

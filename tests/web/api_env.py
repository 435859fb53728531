"""A running Heard web app with agents, tokens and a real callback receiver, for API tests.

Import the fixtures into a test module (`from tests.web.api_env import api`); they sit
on the shared `make_heard`/`store_url` fixtures, so every API test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher, profiles

from inbox import accounts
from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import Conversation
from inbox.web.app import make_app
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound
from tests.servers.http_receiver import Receiver

PASSWORD = "correct horse battery"
CONFIG = """
[queue]
retry_base_seconds = 0.05
worker_threads = 2

[web]
secret_key = "test-secret-key"

[[channels]]
type = "webhook"
name = "forms"
secret = "test-secret"
callback_url = "{callback}"

[[channels]]
type = "webhook"
name = "sms"
secret = "test-secret"
callback_url = "{callback}"
"""


@dataclass
class ApiEnv:
    heard: Heard
    client: TestClient[Any, Any]
    receiver: Receiver
    tokens: dict[str, str] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        *,
        who: str | None = "ann",
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> tuple[int, Any]:
        headers = dict(headers or {})
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        response = await self.client.request(
            method, path, json=json, headers=headers, params=params
        )
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    def seed(self, external_id: str, **options: Any) -> int:
        """One inbound message through the real ingest path; returns its conversation id."""
        [result] = store_messages(self.heard, [inbound(external_id, **options)])
        self.drain()
        return result.conversation_id

    def update(self, conversation_id: int, **values: Any) -> None:
        with self.heard.sessions() as session, session.begin():
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            for name, value in values.items():
                setattr(conversation, name, value)

    def drain(self) -> None:
        self.heard.queue.drain(timeout=30)


@pytest.fixture
def cheap_kdf() -> Iterator[None]:
    """argon2's cheapest parameters: the same code path, milliseconds instead of half a second."""
    accounts.use_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield
    accounts.use_hasher(PasswordHasher())


@pytest.fixture
async def api(
    make_heard: MakeHeard, store_url: str, receiver: Receiver, cheap_kdf: None
) -> AsyncIterator[ApiEnv]:
    heard = make_heard(CONFIG.format(callback=receiver.url), store_url=store_url)
    with heard.sessions() as session, session.begin():
        accounts.add_agent(session, "ann", name="Ann", email="ann@example.com", password=PASSWORD)
        accounts.add_agent(session, "bob", name="Bob", password=PASSWORD)
        accounts.add_agent(session, "boss", name="The Boss", role="admin", password=PASSWORD)
        tokens = {key: accounts.create_token(session, key) for key in ("ann", "bob", "boss")}
    async with TestClient(TestServer(make_app(heard))) as client:
        yield ApiEnv(heard, client, receiver, tokens)

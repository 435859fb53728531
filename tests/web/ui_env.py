"""A running workspace for the UI and web chat tests: agents, channels, a signed-in client.

Channels: a web chat (`site`), a webhook (`forms`, answering to a real local receiver) and an
email channel (`mail`, sending through a real aiosmtpd) that the chat hands offline
conversations to. Import the fixtures into a test module: `from tests.web.ui_env import ...`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from inbox import accounts
from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import Agent, Conversation
from inbox.types import InboundMessage
from inbox.web.app import make_app
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound
from tests.servers.http_receiver import Receiver
from tests.servers.smtp import SmtpCapture

PASSWORD = "correct horse battery"
SITE_ORIGIN = "https://shop.example"
CONFIG = """
[queue]
retry_base_seconds = 0.05
worker_threads = 2

[web]
secret_key = "ui-test-secret"

[[channels]]
type = "webchat"
name = "site"
display_name = "Acme Support"
origins = ["{origin}"]
offline_email_channel = "mail"

[[channels]]
type = "webhook"
name = "forms"
secret = "test-secret"
callback_url = "{callback}"

[[channels]]
type = "email"
name = "mail"
address = "support@acme.example"
[channels.smtp]
host = "{smtp_host}"
port = {smtp_port}

[agents.ann]
name = "Ann"

[agents.bob]
name = "Bob"

[teams.billing]
name = "Billing"
agents = ["ann"]

[templates.thanks]
en = "Thanks {{{{ customer_name }}}}, we are looking into it ({{{{ reference }}}})."
"""


@dataclass
class UiEnv:
    heard: Heard
    client: TestClient[Any, Any]
    receiver: Receiver
    smtp: SmtpCapture
    csrf: str = ""

    async def login(self, who: str = "ann") -> str:
        response = await self.client.post("/login", json={"username": who, "password": PASSWORD})
        assert response.status == 200, await response.text()
        self.csrf = (await response.json())["csrf_token"]
        return self.csrf

    def seed(self, *messages: InboundMessage) -> list[int]:
        """Messages through the real ingest path; returns their conversation ids."""
        results = store_messages(self.heard, list(messages))
        self.heard.queue.drain(timeout=30)
        return [r.conversation_id for r in results]

    def seed_webhook(self, external_id: str, **options: Any) -> int:
        return self.seed(inbound(external_id, **options))[0]

    async def drain(self) -> None:
        await asyncio.to_thread(self.heard.queue.drain, 30)

    def update(self, conversation_id: int, **values: Any) -> None:
        with self.heard.sessions() as session, session.begin():
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            for name, value in values.items():
                setattr(conversation, name, value)

    def agents_present(self, present: bool = True) -> None:
        """As if agents had the workspace open (or nobody has for a long time)."""
        seen = datetime.now(UTC) if present else None
        with self.heard.sessions() as session, session.begin():
            session.execute(update(Agent).values(last_seen_at=seen))

    async def post_form(self, path: str, **fields: str) -> tuple[int, Any]:
        response = await self.client.post(
            path,
            data={"csrf_token": self.csrf, **fields},
            headers={"Accept": "application/json"},
        )
        return response.status, await response.json()


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    server = SmtpCapture().start()
    yield server
    server.stop()


def make_env_heard(
    make_heard: MakeHeard, store_url: str | None, receiver: Receiver, smtp: SmtpCapture
) -> Heard:
    config = CONFIG.format(
        origin=SITE_ORIGIN, callback=receiver.url, smtp_host=smtp.host, smtp_port=smtp.port
    )
    heard = make_heard(config, store_url=store_url)
    with heard.sessions() as session, session.begin():
        accounts.add_agent(session, "ann", name="Ann", email="ann@example.com", password=PASSWORD)
        accounts.add_agent(session, "bob", name="Bob", password=PASSWORD)
    return heard


@pytest.fixture
async def ui(
    make_heard: MakeHeard, tmp_path: Any, receiver: Receiver, smtp: SmtpCapture
) -> AsyncIterator[UiEnv]:
    """On SQLite: most UI behaviour does not depend on the store (the chat tests run both)."""
    heard = make_env_heard(make_heard, None, receiver, smtp)
    async with TestClient(TestServer(make_app(heard))) as client:
        yield UiEnv(heard, client, receiver, smtp)


@pytest.fixture
async def ui_any_store(
    make_heard: MakeHeard, store_url: str, receiver: Receiver, smtp: SmtpCapture
) -> AsyncIterator[UiEnv]:
    heard = make_env_heard(make_heard, store_url, receiver, smtp)
    async with TestClient(TestServer(make_app(heard))) as client:
        yield UiEnv(heard, client, receiver, smtp)

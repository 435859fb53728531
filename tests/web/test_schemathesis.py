"""Generated requests from the OpenAPI document against a real running server.

Every operation in /api/v1/openapi.json is exercised with schemathesis: the server must never
answer 5xx, and what it answers must be a status code, content type and body the document
declares, which keeps the document honest. Bounded by `max_examples` to stay fast.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inbox import accounts
from inbox.ingest import store_messages
from inbox.web.app import make_app
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound

MAX_EXAMPLES = 20

pytestmark = pytest.mark.slow


class LiveServer:
    """The app on a free loopback port, served from its own thread and event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app, access_log=None)
        self.port = 0

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> LiveServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def live_api(make_heard: MakeHeard, store_url: str) -> Iterator[tuple[str, str]]:
    heard = make_heard(store_url=store_url)
    with heard.sessions() as session, session.begin():
        accounts.add_agent(session, "ann")
        accounts.add_agent(session, "boss", role="admin")
        token = accounts.create_token(session, "boss")
    # A few conversations (two of one customer) so small generated ids hit real rows.
    store_messages(
        heard,
        [
            inbound("m1", handle="same", keys=("t1",)),
            inbound("m2", handle="same", keys=("t2",)),
            inbound("m3", handle="other", subject="Hello"),
        ],
    )
    heard.queue.drain(timeout=30)
    with LiveServer(make_app(heard)) as server:
        yield f"http://127.0.0.1:{server.port}", token


POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Invalid input may fail in ways the document does not list one by one (a path id that is not
# a number is a plain 404); what matters is that it is refused, never a crash.
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance]


def test_generated_requests_never_break_the_api(live_api: tuple[str, str]) -> None:
    base, token = live_api
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    calls = 0
    for operation in operations:
        calls += exercise(operation, base, token, GenerationMode.POSITIVE, POSITIVE_CHECKS)
        if operation.method.upper() == "POST" or operation.path == "/conversations":
            calls += exercise(operation, base, token, GenerationMode.NEGATIVE, NEGATIVE_CHECKS)
    assert calls >= len(operations) * 5  # the requests really went out


def exercise(operation: Any, base: str, token: str, mode: GenerationMode, checks: list[Any]) -> int:
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(
            base_url=f"{base}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            checks=checks,
        )

    check()
    return calls

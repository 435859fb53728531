"""An agent's reply through the API to an email conversation leaves by SMTP, threaded."""

# Fixtures are imported from tests.web.api_env, so test arguments shadow them by design.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.email.mime import MailContext, normalize
from inbox import accounts
from inbox.ingest import store_messages
from inbox.web.app import make_app
from tests.conftest import MakeHeard
from tests.connectors.email.mails import mail, message_id_of
from tests.servers.http_receiver import Receiver
from tests.servers.smtp import SmtpCapture
from tests.web.api_env import ApiEnv, cheap_kdf  # noqa: F401

pytestmark = pytest.mark.smtp

CONFIG = """
[queue]
retry_base_seconds = 0.05

[[channels]]
type = "email"
name = "support"
address = "support@example.com"
display_name = "Example Support"

[channels.smtp]
host = "{host}"
port = {port}
"""


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    server = SmtpCapture().start()
    yield server
    server.stop()


@pytest.fixture
async def email_api(
    make_heard: MakeHeard,
    store_url: str,
    smtp: SmtpCapture,
    receiver: Receiver,
    cheap_kdf: None,
) -> AsyncIterator[ApiEnv]:
    heard = make_heard(CONFIG.format(host=smtp.host, port=smtp.port), store_url=store_url)
    with heard.sessions() as session, session.begin():
        accounts.add_agent(session, "ann", name="Ann")
        token = accounts.create_token(session, "ann")
    async with TestClient(TestServer(make_app(heard))) as client:
        yield ApiEnv(heard, client, receiver, {"ann": token})


async def test_reply_to_an_email_conversation_goes_out_by_smtp_with_threading_headers(
    email_api: ApiEnv, smtp: SmtpCapture
) -> None:
    raw = mail(subject="Kettle is broken", sender="Ada Customer <ada@customer.example>")
    first_id = message_id_of(raw)
    message = normalize(raw, MailContext("support", frozenset({"support@example.com"})))
    [stored] = store_messages(email_api.heard, [message])
    email_api.drain()
    before = len(smtp.messages)  # the acknowledgement, if the rules send one

    status, body = await email_api.call(
        "POST",
        f"/api/v1/conversations/{stored.conversation_id}/replies",
        json={"text": "Sorry about the kettle: a new one is on its way."},
    )
    assert status == 201, body
    email_api.drain()
    sent = smtp.wait_for(before + 1)[before:]
    assert len(sent) == 1
    reply = sent[0].message
    assert sent[0].recipients == ["ada@customer.example"]
    assert reply["In-Reply-To"] == first_id
    assert first_id in reply["References"].split()
    assert reply["Subject"].startswith("Re: Kettle is broken")
    assert "a new one is on its way" in reply.get_body(preferencelist=("plain",)).get_content()
    _, conversation = await email_api.call("GET", f"/api/v1/conversations/{stored.conversation_id}")
    [agent_reply] = [m for m in conversation["messages"] if m["author"] == "ann"]
    assert agent_reply["delivery_status"] == "sent"
    assert agent_reply["external_id"] == reply["Message-ID"]

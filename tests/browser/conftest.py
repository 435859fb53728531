"""Real headless Chromium (Debian's `chromium`) driven by Playwright, against a live server.

The app runs on a free loopback port in the test's own event loop, so the browser, the web
server and the test share one loop; blocking work (draining the queue) goes to a thread.
Screenshots land in tests/.artifacts/; with HEARD_UPDATE_SCREENSHOTS=1 also in docs/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from inbox.app import Heard
from inbox.web.app import make_app
from tests.conftest import IN_CI, server_missing

CHROMIUM = os.environ.get("HEARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / ".artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        server_missing("Playwright", exc)
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        server_missing("Chromium", FileNotFoundError(CHROMIUM))
    async with async_playwright() as playwright:
        try:
            launched = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Exception as exc:  # a broken install must fail on CI, skip on a laptop
            if IN_CI:
                raise
            pytest.skip(f"Chromium did not start: {exc}")
        try:
            yield launched
        finally:
            await launched.close()


async def serve(heard: Heard) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(make_app(heard), shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def widget_connected(page: Any) -> None:
    """The chat widget's status line leaves "connecting…" once the welcome has arrived.

    (Waiting on a DOM state rather than `wait_for_function`: the page's CSP forbids eval.)
    """
    from playwright.async_api import expect

    await expect(page.locator("#heard-chat .status")).to_have_text(re.compile("^(online|away)$"))


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def publish_screenshot(name: str) -> None:
    """Copy an artifact into docs/ when asked to refresh the README's pictures."""
    if os.environ.get("HEARD_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, ROOT / "docs" / name)

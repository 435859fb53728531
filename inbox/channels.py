"""One event loop that owns every opened connector in this process.

Connectors hold sockets and client sessions bound to an event loop, while dramatiq workers are
threads. Worker threads therefore hand their channel calls to this loop (the `heard run` main
loop, or a private thread for `heard sync` and tests) instead of opening connectors per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from connectors.base import Connector

if TYPE_CHECKING:
    from inbox.app import Heard

T = TypeVar("T")
CALL_TIMEOUT = 120.0


class ChannelLoop:
    def __init__(self, heard: Heard, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.heard = heard
        self._own_thread: threading.Thread | None = None
        if loop is None:
            loop = asyncio.new_event_loop()
            self._own_thread = threading.Thread(
                target=loop.run_forever, name="heard-channels", daemon=True
            )
            self._own_thread.start()
        self.loop = loop
        self._opened: dict[str, Connector] = {}
        self._lock: asyncio.Lock | None = None

    async def connector(self, name: str) -> Connector:
        """The opened connector for a channel (must run on this loop)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if name not in self._opened:
                connector = self.heard.connector(name)
                await connector.open()
                self._opened[name] = connector
            return self._opened[name]

    def call(
        self, name: str, fn: Callable[[Connector], Awaitable[T]], timeout: float = CALL_TIMEOUT
    ) -> T:
        """Run `fn(opened connector)` on the loop from any other thread and wait for it."""

        async def run() -> T:
            return await fn(await self.connector(name))

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    async def aclose(self) -> None:
        opened, self._opened = self._opened, {}
        for connector in opened.values():
            # Closing must not hide the reason we are shutting down.
            with contextlib.suppress(Exception):
                await connector.close()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self._own_thread is not None:
            asyncio.run_coroutine_threadsafe(self.aclose(), self.loop).result(30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._own_thread.join(10)
            self.loop.close()

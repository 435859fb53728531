"""Reaches the visitors connected to this process: visitor id → open sockets' mailboxes.

`send` runs on a worker thread (or another event loop) while sockets live on the web server's
loop, so frames cross over with `call_soon_threadsafe`. A visitor connected to another process
is not here; they read the message from the store when they reconnect or reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Frame = Mapping[str, Any]


class VisitorHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[
            str, set[tuple[asyncio.AbstractEventLoop, Callable[[Frame], None]]]
        ] = {}

    @contextlib.contextmanager
    def connect(self, visitor: str, deliver: Callable[[Frame], None]) -> Iterator[None]:
        """Register an open socket's `deliver` (called on its own loop) while the block runs."""
        entry = (asyncio.get_running_loop(), deliver)
        with self._lock:
            self._sockets.setdefault(visitor, set()).add(entry)
        try:
            yield
        finally:
            with self._lock:
                sockets = self._sockets.get(visitor, set())
                sockets.discard(entry)
                if not sockets:
                    self._sockets.pop(visitor, None)

    def send(self, visitor: str, frame: Frame) -> int:
        """Hand `frame` to every socket of the visitor; returns how many took it."""
        with self._lock:
            entries = list(self._sockets.get(visitor, ()))
        delivered = 0
        for loop, deliver in entries:
            try:
                loop.call_soon_threadsafe(deliver, frame)
            except RuntimeError:  # that socket's loop has closed
                continue
            delivered += 1
        return delivered

    def connected(self, visitor: str) -> bool:
        with self._lock:
            return bool(self._sockets.get(visitor))

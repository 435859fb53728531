"""In-process notifications that wake the live views (agents' event stream, chat sockets).

An event is a nudge, not the data: views re-read the store when woken, so a lost or doubled
event costs nothing, and they also poll the store on a timer, which is what keeps a
multi-process deployment (Redis broker, several web processes) live. Worker threads publish
while the aiohttp loop consumes, so delivery hops threads with `call_soon_threadsafe`.

Call `publish(heard, {"type": "conversations", "ids": [7]})` after a transaction that changed
what agents see has committed; `type` is free-form ("conversations", "delivery", "typing").
Each `Heard` has its own hub, so two apps in one process (tests) never wake each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

log = logging.getLogger(__name__)

Event = Mapping[str, Any]
Listener = Callable[[Event], None]
QUEUE_LIMIT = 256


class Subscription:
    """One view's mailbox, bound to the event loop that reads it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)

    def offer(self, event: Event) -> None:
        """Hand an event over from any thread; a full mailbox drops it (the poll catches up)."""
        with contextlib.suppress(RuntimeError):  # the loop closed: the view is gone
            self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: Event) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(event)

    async def next(self, timeout: float) -> Event | None:
        """The next event, or None when `timeout` passes first (time to poll the store)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one broken view must not stop the others
                log.exception("live listener failed")

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` on the publishing thread; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A mailbox on the running event loop for the duration of the block."""
        subscription = Subscription(asyncio.get_running_loop())
        stop = self.listen(subscription.offer)
        try:
            yield subscription
        finally:
            stop()


_HUBS: weakref.WeakKeyDictionary[object, Hub] = weakref.WeakKeyDictionary()
_HUBS_LOCK = threading.Lock()


def hub(heard: object) -> Hub:
    """The hub of one running Heard (made on first use)."""
    with _HUBS_LOCK:
        found = _HUBS.get(heard)
        if found is None:
            found = _HUBS[heard] = Hub()
        return found


def publish(heard: object, event: Event) -> None:
    """Wake every live view of `heard` in this process; safe from any thread, never raises."""
    try:
        hub(heard).publish(event)
    except Exception:  # a view must never break the write path that notifies it
        log.exception("live publish failed")


def subscribe(heard: object) -> contextlib.AbstractContextManager[Subscription]:
    return hub(heard).subscribe()

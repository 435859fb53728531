"""In-process notifications for live views (SSE/WebSocket); a no-op until someone listens.

Other processes (a Redis deployment) are not reached by this; live views also poll the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]


def subscribe(heard: Heard, listener: Listener) -> Callable[[], None]:
    listeners: list[Listener] = heard.__dict__.setdefault("_live_listeners", [])
    listeners.append(listener)
    return lambda: listeners.remove(listener) if listener in listeners else None


def publish(heard: Heard, event: dict[str, Any]) -> None:
    for listener in list(heard.__dict__.get("_live_listeners", [])):
        try:
            listener(event)
        except Exception:
            log.exception("live listener failed")

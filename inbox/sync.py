"""Polling pull channels: fetch a batch, store it with its cursor, repeat while there is more.

Shared by `heard sync` (once, for cron and tests) and `heard run` (on an interval, per channel).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.base import Connector
from inbox.errors import ChannelError, RateLimitError
from inbox.ingest import load_cursor, store_batch

if TYPE_CHECKING:
    from inbox.app import Heard

log = logging.getLogger(__name__)

BATCH_SIZE = 200

Progress = Callable[[str, int], None]


@dataclass
class SyncReport:
    stored: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


async def poll_channel(
    heard: Heard, connector: Connector, *, progress: Progress | None = None, limit: int = BATCH_SIZE
) -> tuple[int, int]:
    """Fetch until the channel says there is no more; returns (stored, duplicates)."""
    stored = duplicates = 0
    # Read once; afterwards the cursor is the one just committed with its batch.
    cursor = await asyncio.to_thread(_cursor, heard, connector.name)
    while True:
        batch = await connector.fetch(cursor, limit)
        if batch.messages or batch.next_cursor != cursor:
            results = await asyncio.to_thread(store_batch, heard, connector.name, batch)
            if batch.next_cursor is not None:
                cursor = batch.next_cursor
            created = sum(1 for r in results if r.created)
            stored += created
            duplicates += len(results) - created
            if progress:
                progress(connector.name, len(results))
        if not batch.more:
            return stored, duplicates


def _cursor(heard: Heard, account: str) -> str | None:
    with heard.sessions() as session:
        return load_cursor(session, account)


def pull_channels(heard: Heard) -> list[str]:
    from connectors.registry import connector_class

    return [c.name for c in heard.enabled_channels() if connector_class(c.type).pulls]


def sync_once(heard: Heard, *, progress: Progress | None = None, drain: bool = True) -> SyncReport:
    """Poll every pull channel once, then run every resulting job to completion."""
    report = SyncReport()
    assert heard.channels is not None and heard.queue is not None, "start the queue first"
    for name in pull_channels(heard):

        async def run(connector: Connector) -> tuple[int, int]:
            return await poll_channel(heard, connector, progress=progress)

        try:
            stored, dupes = heard.channels.call(name, run, timeout=24 * 3600)
        except RateLimitError as exc:
            report.errors[name] = f"rate limited, retry in {exc.retry_after:.0f}s"
            continue
        except ChannelError as exc:
            log.error("sync of %s failed: %s", name, exc)
            report.errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        report.stored[name], report.duplicates[name] = stored, dupes
    if drain:
        heard.queue.drain()
    return report

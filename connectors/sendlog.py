"""Remembers, per idempotency key, what a peer already accepted, so a retried send is not doubled.

Telegram and X have no idempotency keys of their own. The outbox retries a send with the same
key after a rate limit or a dropped connection; a long reply split into several Telegram
messages may fail half way. Recording each accepted part lets the retry continue where the
last attempt stopped, and return the first attempt's `Delivery` when it had finished. The log
lives in the connector (one per process and account), bounded, newest kept.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from inbox.types import Delivery


@dataclass(slots=True)
class SendRecord:
    """Parts the peer accepted for one idempotency key, and the delivery once all were sent."""

    parts: list[str] = field(default_factory=list)
    delivery: Delivery | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SendLog:
    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._records: OrderedDict[str, SendRecord] = OrderedDict()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[SendRecord]:
        """The record for `key`, locked so two concurrent sends of one key cannot both go out."""
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = SendRecord()
        self._records.move_to_end(key)
        while len(self._records) > self._size:
            self._records.popitem(last=False)
        async with record.lock:
            yield record

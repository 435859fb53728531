"""The connector seam: one instance per configured channel account.

Pull channels implement `fetch`, push channels `verify` and `parse`; every channel implements
`send`. Nothing here persists anything: the cursor returned by `fetch` is saved by ingest in the
same transaction as the messages, which is what makes a crash safe (design.md, idempotent ingest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from inbox.types import Batch, Delivery, InboundMessage, OutboundMessage, WebhookReply


class ChannelConfig(BaseModel):
    """Keys every `[[channels]]` entry has; each connector extends it with its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    name: str
    enabled: bool = True
    display_name: str = ""
    poll_interval: float = 30.0
    auto_reply_per_hour: int = 3
    # A conversation whose newest customer message is older than this when it is first routed
    # is history (a first import of a mailbox): stored resolved, never acknowledged. 0: never.
    archive_after_days: int = Field(14, ge=0)


class Connector:
    """Base of every channel. Open/close are idempotent and usable as an async context manager."""

    kind: ClassVar[str] = ""
    config_model: ClassVar[type[ChannelConfig]] = ChannelConfig
    pulls: ClassVar[bool] = False
    pushes: ClassVar[bool] = False
    max_text_length: ClassVar[int | None] = None

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        self.config = config
        self.options = options
        self._opened = False

    @property
    def name(self) -> str:
        return self.config.name

    async def open(self) -> None:
        if not self._opened:
            self._opened = True
            try:
                await self._open()
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self._close()

    async def _open(self) -> None:
        """Connect or log in; subclasses override."""

    async def _close(self) -> None:
        """Release connections; must tolerate a half-finished `_open`."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # Pull channels ------------------------------------------------------------------------
    async def fetch(self, cursor: str | None, limit: int) -> Batch:
        raise NotImplementedError(f"{self.kind} does not pull")

    async def wait_for_news(self, timeout: float) -> None:
        """Return when new messages may be there (IMAP IDLE overrides); by default just wait."""
        await asyncio.sleep(timeout)

    # Push channels ------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise SignatureError unless the peer signed this request."""
        raise NotImplementedError(f"{self.kind} does not receive pushes")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Sequence[InboundMessage]:
        """Turn a verified request into messages; raise BadInput with what is wrong."""
        raise NotImplementedError(f"{self.kind} does not receive pushes")

    async def complete(self, messages: Sequence[InboundMessage]) -> Sequence[InboundMessage]:
        """Finish parsed pushes with I/O `parse` must not do (Telegram's file downloads).

        Runs on the opened connector after `verify` and `parse`; by default nothing to do.
        """
        return messages

    def challenge(self, query: Mapping[str, str]) -> WebhookReply | None:
        """Answer a GET on the webhook URL (X's CRC check); None means 405."""
        return None

    async def on_start(self, public_url: str | None) -> None:
        """Called once by `heard run` (e.g. Telegram's setWebhook)."""

    # Every channel ------------------------------------------------------------------------
    async def send(self, outbound: OutboundMessage) -> Delivery:
        raise NotImplementedError

"""`send` for the web chat: deliver live to the visitor's open sockets, and by email after
the offline form.

The outbox has already stored the message, so a visitor who is not connected still sees it in
their history on the next visit; when they used the offline form and left an address, the
reply also leaves through the configured email channel so the conversation continues there
(until they write live again, which clears the offline mark).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.base import ChannelConfig, Connector
from connectors.webchat.config import WebchatConfig
from connectors.webchat.hub import VisitorHub
from inbox.errors import RecipientError
from inbox.types import Delivery, OutboundMessage

log = logging.getLogger(__name__)


def message_frame(
    *, id: str, direction: str, kind: str, text: str, author: str, at: datetime | None = None
) -> dict[str, Any]:
    """One chat line as the widget draws it; history and live delivery use the same shape."""
    return {
        "type": "message",
        "id": id,
        "direction": direction,
        "kind": kind,
        "text": text,
        "author": author,
        "at": (at or datetime.now(UTC)).isoformat(),
    }


def outbound_id(idempotency_key: str) -> str:
    """The widget's id for an outgoing line, the same live and in history (dedupe on resend)."""
    return f"o-{idempotency_key}"


class WebchatConnector(Connector):
    kind: ClassVar[str] = "webchat"
    config_model: ClassVar[type[ChannelConfig]] = WebchatConfig
    max_text_length: ClassVar[int | None] = 4000

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self.hub = VisitorHub()

    @property
    def chat_config(self) -> WebchatConfig:
        assert isinstance(self.config, WebchatConfig)
        return self.config

    @property
    def agent_label(self) -> str:
        return self.config.display_name or "Support"

    async def send(self, outbound: OutboundMessage) -> Delivery:
        thread: Mapping[str, Any] = outbound.thread
        visitor = str(thread.get("visitor") or outbound.recipient)
        if not visitor:
            raise RecipientError("web chat conversation has no visitor id")
        frame = message_frame(
            id=outbound_id(outbound.idempotency_key),
            direction="out",
            kind=outbound.kind.value,
            text=outbound.text,
            author=self.agent_label,
        )
        live = self.hub.send(visitor, frame)
        emailed = False
        if thread.get("offline") and thread.get("email"):
            # They used the offline form and were promised an answer by email: keep it, even
            # if they are still on the page (they may close it any second).
            emailed = await self._send_by_email(outbound, str(thread["email"]))
        log.debug("web chat send %s: live=%d emailed=%s", outbound.reference, live, emailed)
        return Delivery(
            external_id=f"webchat:{outbound.idempotency_key}",
            extras={"live": live, "emailed": emailed},
        )

    async def _send_by_email(self, outbound: OutboundMessage, address: str) -> bool:
        """Continue an offline conversation by email through the configured email channel."""
        channel = self.chat_config.offline_email_channel
        lookup: Callable[[str], Connector] | None = self.options.get("channel_lookup")
        if not channel or lookup is None:
            return False
        email = lookup(channel)
        await email.open()
        subject = f"Re: your message on our website [{outbound.reference}]"
        await email.send(
            OutboundMessage(
                account=channel,
                conversation_id=outbound.conversation_id,
                reference=outbound.reference,
                recipient=address,
                recipient_name=outbound.recipient_name,
                text=outbound.text,
                kind=outbound.kind,
                idempotency_key=f"{outbound.idempotency_key}:email",
                subject=subject,
                thread={"subject": subject},
            )
        )
        return True

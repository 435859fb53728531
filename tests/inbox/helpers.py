"""Small builders shared by the store tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.webhook import sign
from inbox.types import InboundMessage, Sender, SenderKind


def inbound(
    external_id: str,
    *,
    text: str = "hello",
    handle: str = "cust-1",
    name: str = "Customer",
    keys: tuple[str, ...] = (),
    account: str = "forms",
    channel: str = "webhook",
    sender_kind: SenderKind = SenderKind.HUMAN,
    **extra: Any,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        account=account,
        external_id=external_id,
        sender=Sender(handle=handle, name=name, email=extra.pop("email", None)),
        text=text,
        received_at=extra.pop("received_at", None) or datetime.now(UTC),
        thread_keys=keys or (f"sender:{handle}",),
        sender_kind=sender_kind,
        **extra,
    )


def signed(payload: dict[str, Any], secret: str = "test-secret") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"X-Heard-Signature": sign(secret, body), "Content-Type": "application/json"}

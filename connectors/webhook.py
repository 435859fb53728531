"""The generic webhook channel: SMS gateways, forms and in-house tools speak plain signed JSON.

Inbound: `POST /hooks/<name>` with `X-Heard-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
Outbound: a JSON POST to `callback_url`, signed the same way and carrying an idempotency key so
the receiver can drop the duplicate a retry may cause.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import Field, SecretStr

from connectors import public_fetch
from connectors.base import ChannelConfig, Connector
from inbox.errors import (
    AuthError,
    BadInput,
    PermanentError,
    RateLimitError,
    SignatureError,
    TransientError,
)
from inbox.types import AttachmentIn, Delivery, InboundMessage, OutboundMessage, Sender

SIGNATURE_HEADER = "X-Heard-Signature"
REQUIRED = ("message_id", "sender_id", "text")
REMOTE = "remote: "


class WebhookConfig(ChannelConfig):
    type: str = "webhook"
    secret: SecretStr
    callback_url: str | None = None
    timeout: float = Field(15.0, gt=0)
    # Fetch attachments the body names by URL (http/https only, size-limited). A failed fetch
    # keeps the URL on the attachment, so nothing is lost.
    download_attachments: bool = True
    # Only public addresses are fetched (no loopback, private or link-local: a URL must not
    # reach inside our network). Allow them for a gateway that serves media on your LAN.
    download_private_addresses: bool = False


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookConnector(Connector):
    kind = "webhook"
    config_model = WebhookConfig
    pushes = True

    config: WebhookConfig
    _session: aiohttp.ClientSession | None = None
    _downloads: aiohttp.ClientSession | None = None

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout)
        )
        self._downloads = public_fetch.session(
            self.config.timeout, private_ok=self.config.download_private_addresses
        )

    async def _close(self) -> None:
        for client in (self._session, self._downloads):
            if client is not None:
                await client.close()
        self._session = self._downloads = None

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        expected = sign(self.config.secret.get_secret_value(), body)
        if not hmac.compare_digest(given.strip().lower(), expected):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Sequence[InboundMessage]:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadInput("body must be a JSON object")
        missing = [k for k in REQUIRED if data.get(k) in (None, "")]
        if missing:
            raise BadInput(f"missing required field(s): {', '.join(missing)}")
        for key in (*REQUIRED, "sender_name", "thread_id", "sender_email", "subject"):
            if key in data and data[key] is not None and not isinstance(data[key], str | int):
                raise BadInput(f"field {key!r} must be a string")
        thread_id = str(data["thread_id"]) if data.get("thread_id") not in (None, "") else None
        sender_id = str(data["sender_id"])
        return [
            InboundMessage(
                channel=self.kind,
                account=self.name,
                external_id=str(data["message_id"]),
                sender=Sender(
                    handle=sender_id,
                    name=str(data.get("sender_name") or ""),
                    email=str(data["sender_email"]) if data.get("sender_email") else None,
                ),
                text=str(data["text"]),
                subject=str(data.get("subject") or ""),
                received_at=datetime.now(UTC),
                thread_keys=(f"thread:{thread_id}" if thread_id else f"sender:{sender_id}",),
                attachments=tuple(_attachments(data.get("attachments"))),
                raw=body,
                extras={"thread": {"thread_id": thread_id, "recipient": sender_id}},
            )
        ]

    async def complete(self, messages: Sequence[InboundMessage]) -> Sequence[InboundMessage]:
        """Download attachments given by URL before the message is stored."""
        if not self.config.download_attachments:
            return messages
        out = []
        for message in messages:
            if any(_remote_url(a) for a in message.attachments):
                items = [await self._fetch(a) for a in message.attachments]
                message = replace(message, attachments=tuple(items))
            out.append(message)
        return out

    async def _fetch(self, item: AttachmentIn) -> AttachmentIn:
        url = _remote_url(item)
        if url is None:
            return item
        assert self._downloads is not None, "connector not opened"
        limit = int(self.options.get("max_attachment_size") or 25 * 1024 * 1024)
        private_ok = self.config.download_private_addresses
        try:
            got = await public_fetch.fetch(self._downloads, url, limit, private_ok=private_ok)
        except public_fetch.Refused as exc:
            return replace(item, skipped_reason=f"{REMOTE}{url} (not fetched: {exc})")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return replace(item, skipped_reason=f"{REMOTE}{url} (download failed: {exc})")
        if got.truncated:
            return replace(item, skipped_reason=f"{REMOTE}{url} (over the {limit}-byte limit)")
        return replace(item, data=got.data, size=len(got.data), skipped_reason=None)

    async def send(self, outbound: OutboundMessage) -> Delivery:
        if not self.config.callback_url:
            raise PermanentError(f"channel {self.name!r} has no callback_url to send to")
        assert self._session is not None, "connector not opened"
        body = json.dumps(
            {
                "conversation_id": outbound.conversation_id,
                "reference": outbound.reference,
                "thread_id": outbound.thread.get("thread_id"),
                "recipient_id": outbound.recipient,
                "text": outbound.text,
                "kind": outbound.kind.value,
                "idempotency_key": outbound.idempotency_key,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.config.secret.get_secret_value(), body),
            "Idempotency-Key": outbound.idempotency_key,
        }
        try:
            async with self._session.post(
                self.config.callback_url, data=body, headers=headers
            ) as r:
                text = await r.text(errors="replace")
                _raise_for_status(r.status, r.headers, text)
                return Delivery(_delivery_id(text, outbound.idempotency_key))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"callback failed: {exc!r}") from exc


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _remote_url(item: AttachmentIn) -> str | None:
    reason = item.skipped_reason or ""
    return reason[len(REMOTE) :] if item.data is None and reason.startswith(REMOTE) else None


def _attachments(raw: Any) -> list[AttachmentIn]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadInput("attachments must be a list")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("filename"):
            raise BadInput(f"attachments[{i}] needs a filename")
        content_type = str(item.get("content_type") or "application/octet-stream")
        if item.get("data_base64") is not None:
            try:
                data = base64.b64decode(str(item["data_base64"]), validate=True)
            except (binascii.Error, ValueError):
                raise BadInput(f"attachments[{i}].data_base64 is not valid base64") from None
            out.append(AttachmentIn(str(item["filename"]), content_type, len(data), data))
        elif item.get("url"):
            out.append(
                AttachmentIn(
                    str(item["filename"]),
                    content_type,
                    0,
                    None,
                    skipped_reason=f"{REMOTE}{item['url']}",
                )
            )
        else:
            raise BadInput(f"attachments[{i}] needs url or data_base64")
    return out


def _raise_for_status(status: int, headers: Mapping[str, str], text: str) -> None:
    if status < 300:
        return
    detail = f"callback answered {status}: {text[:200]}"
    if status == 429:
        retry = _header(headers, "Retry-After")
        raise RateLimitError(detail, float(retry) if retry and retry.isdigit() else 30.0)
    if status in (401, 403):
        raise AuthError(detail)
    if 400 <= status < 500 and status not in (408, 409, 425):
        raise PermanentError(detail)
    raise TransientError(detail)


def _delivery_id(text: str, idempotency_key: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("id"):
        return str(data["id"])
    return f"webhook:{idempotency_key}"

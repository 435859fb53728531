"""The `type = "webchat"` channel's keys, checked when the config loads."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from connectors.base import ChannelConfig

COLOR = re.compile(r"^#[0-9a-fA-F]{3,8}$")


def origin_of(url: str) -> str:
    """`https://Example.com:443/page` → `https://example.com`: the form browsers send."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) origin like https://example.com")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


class WebchatConfig(ChannelConfig):
    """`origins` are the sites allowed to embed the widget ("*" for any); Heard's own pages
    (the demo) are always allowed. `offline_email_channel` names the email channel that
    carries the conversation on when the visitor left an address and is no longer connected."""

    origins: tuple[str, ...] = ()
    offline_email_channel: str | None = None
    secret: str | None = None
    title: str = "Chat with us"
    welcome: str = "Hi! Write us here — a person will answer."
    color: str = "#2457c5"
    max_message_length: int = Field(4000, ge=1, le=100_000)

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple("*" if item.strip() == "*" else origin_of(item) for item in value)

    @field_validator("color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not COLOR.match(value):
            raise ValueError("must be a hex colour like #2457c5")
        return value

    def allows(self, origin: str | None, own_origins: tuple[str, ...] = ()) -> bool:
        """Whether a page served from `origin` may open a chat (the WebSocket's Origin)."""
        if not origin:
            return False
        try:
            normalized = origin_of(origin)
        except ValueError:
            return False
        return "*" in self.origins or normalized in self.origins or normalized in own_origins

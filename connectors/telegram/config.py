"""The `[[channels]]` keys of a Telegram bot (issue 6); secrets may be `{ env = "NAME" }`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from connectors.base import ChannelConfig

# Bot API: getFile serves files up to 20 MB; larger ones cannot be downloaded by a bot.
BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024


class TelegramConfig(ChannelConfig):
    type: Literal["telegram"] = "telegram"
    token: str = Field(min_length=1, repr=False)
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret: str | None = Field(default=None, repr=False, pattern=r"^[A-Za-z0-9_-]{1,256}$")
    api_base_url: str = "https://api.telegram.org"
    max_attachment_size: int = Field(default=BOT_API_DOWNLOAD_LIMIT, ge=0)
    request_timeout: float = Field(default=20.0, gt=0)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramConfig:
        # Without the secret anyone who guesses the URL could post fake customer messages.
        if self.mode == "webhook" and not self.webhook_secret:
            raise ValueError("webhook mode needs webhook_secret (letters, digits, _ and -)")
        return self

    @property
    def method_base(self) -> str:
        """PTB appends the token: calls go to {api_base_url}/bot<token>/<method>."""
        return self.api_base_url.rstrip("/") + "/bot"

    @property
    def file_base(self) -> str:
        return self.api_base_url.rstrip("/") + "/file/bot"

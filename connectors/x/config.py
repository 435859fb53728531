"""The `[[channels]]` keys of an X account (issue 6): credentials named as tweepy's Client takes them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from connectors.base import ChannelConfig


class XConfig(ChannelConfig):
    type: Literal["x"] = "x"
    bearer_token: str | None = Field(default=None, repr=False)
    consumer_key: str | None = Field(default=None, repr=False)
    consumer_secret: str | None = Field(default=None, repr=False)
    access_token: str | None = Field(default=None, repr=False)
    access_token_secret: str | None = Field(default=None, repr=False)
    account: str = Field(min_length=1, pattern=r"^@?[A-Za-z0-9_]{1,15}$")
    poll_interval: float = Field(default=60.0, gt=0)
    api_base_url: str = "https://api.twitter.com"
    mentions: bool = True
    direct_messages: bool = True

    @model_validator(mode="after")
    def _enough_credentials(self) -> XConfig:
        if not self.user_context and not self.bearer_token:
            raise ValueError(
                "set bearer_token, or consumer_key, consumer_secret, access_token and "
                "access_token_secret (DMs and replies need the four user-context keys)"
            )
        if self.direct_messages and not self.user_context:
            raise ValueError("direct_messages needs the four user-context keys (OAuth 1.0a)")
        return self

    @property
    def user_context(self) -> bool:
        """OAuth 1.0a user context: needed to read DMs and to post as the account."""
        return all(
            (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        )

    @property
    def handle(self) -> str:
        return self.account.lstrip("@")

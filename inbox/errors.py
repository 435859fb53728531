"""Heard's exception tree, drawn once here so every layer maps foreign errors to these.

HeardError
├── ConfigError            the admin's config or rules are wrong (user fault: list problems)
├── ChannelError           something went wrong talking to a channel
│   ├── TransientError     try again later (network, 5xx, timeouts)
│   │   └── RateLimitError(retry_after)   the peer asked us to wait
│   └── PermanentError     retrying cannot help; shown to agents
│       ├── AuthError      credentials rejected
│       ├── RecipientError the recipient cannot be reached (blocked bot, bad address)
│       ├── MessageTooLong the text does not fit the channel
│       └── SignatureError an inbound push was not signed by the peer
└── BadInput               a request body or message we cannot accept (HTTP 400)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class HeardError(Exception):
    """Root of every error Heard raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a config or rules file, precise enough to fix without guessing."""

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(HeardError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ChannelError(HeardError):
    pass


class TransientError(ChannelError):
    pass


class RateLimitError(TransientError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, float(retry_after))


class PermanentError(ChannelError):
    pass


class AuthError(PermanentError):
    pass


class RecipientError(PermanentError):
    pass


class MessageTooLong(PermanentError):
    pass


class SignatureError(PermanentError):
    pass


class BadInput(HeardError):
    pass

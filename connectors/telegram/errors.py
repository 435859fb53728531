"""python-telegram-bot exceptions → Heard's error tree, mapped here once (style.md).

PTB already turns HTTP statuses into types (`RetryAfter` for 429 with `retry_after`,
`Forbidden` for 403, `InvalidToken` for 401/404); this names what each means for the outbox.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import error as tg
from telegram.warnings import PTBDeprecationWarning

from inbox.errors import (
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitError,
    RecipientError,
    SignatureError,
    TransientError,
)

# Bot API 400 descriptions that mean the chat is gone rather than the request being wrong.
UNREACHABLE = ("chat not found", "user is deactivated", "peer_id_invalid", "user not found")


def map_error(exc: tg.TelegramError) -> ChannelError:
    """The Heard error for a PTB exception; the caller raises it `from` the original."""
    if isinstance(exc, tg.RetryAfter):
        return RateLimitError(f"Telegram flood control: {exc.message}", _seconds(exc))
    if isinstance(exc, tg.Forbidden):
        return RecipientError(f"Telegram refused the chat (bot blocked or removed): {exc.message}")
    if isinstance(exc, tg.InvalidToken):
        return AuthError(f"Telegram rejected the bot token: {exc.message}")
    if isinstance(exc, tg.ChatMigrated):
        return RecipientError(f"the group moved to chat {exc.new_chat_id}; reply there")
    if isinstance(exc, tg.BadRequest):
        if any(marker in exc.message.lower() for marker in UNREACHABLE):
            return RecipientError(f"Telegram cannot reach the chat: {exc.message}")
        return PermanentError(f"Telegram refused the request: {exc.message}")
    if isinstance(exc, tg.Conflict):
        # Another process polls this bot, or a webhook is set while we poll: retry later.
        return TransientError(f"Telegram conflict: {exc.message}")
    return TransientError(f"Telegram unreachable: {exc.message}")


def _seconds(exc: tg.RetryAfter) -> float:
    # PTB 22 warns that `retry_after` becomes a timedelta; accept both shapes quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class WrongSecret(SignatureError):
    """Bot API webhooks: a request without our secret token is answered 403, nothing stored."""

    status = 403

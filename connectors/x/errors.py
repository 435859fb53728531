"""tweepy and aiohttp exceptions → Heard's error tree, mapped here once (style.md).

tweepy raises one class per status (`TooManyRequests`, `Unauthorized`, `Forbidden`...); the
429 delay comes from the response's `x-rate-limit-reset`, recorded in the rate-limit book so
the next call waits without asking.
"""

from __future__ import annotations

import asyncio

import aiohttp
import tweepy.errors as tw

from connectors.x.ratelimit import RateLimits, route_of
from inbox.errors import (
    AuthError,
    ChannelError,
    PermanentError,
    RateLimitError,
    RecipientError,
    TransientError,
)

# 403 answers that mean the app or token lacks access, not that the recipient refuses.
ACCESS_MARKERS = ("permission", "not-enrolled", "unsupported authentication", "oauth1")


def map_error(exc: BaseException, limits: RateLimits, *, dm: bool = False) -> ChannelError:
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, tw.TooManyRequests):
        response = exc.response
        headers = {k.lower(): v for k, v in response.headers.items()}
        route = route_of(response.method, response.url.path)
        return RateLimitError(f"X rate limit for {route}", limits.retry_after(route, headers))
    if isinstance(exc, tw.Unauthorized):
        return AuthError(f"X rejected the credentials: {_text(exc)}")
    if isinstance(exc, tw.Forbidden):
        text = _text(exc)
        if any(marker in text.lower() for marker in ACCESS_MARKERS):
            return AuthError(f"the X app lacks access: {text}")
        if dm:
            return RecipientError(f"X will not deliver this DM: {text}")
        return PermanentError(f"X refused: {text}")
    if isinstance(exc, tw.NotFound):
        return RecipientError(f"X could not find it (deleted or protected?): {_text(exc)}")
    if isinstance(exc, tw.BadRequest):
        return PermanentError(f"X refused the request: {_text(exc)}")
    if isinstance(exc, tw.HTTPException):
        return TransientError(f"X answered with an error: {_text(exc)}")
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, ValueError)):
        return TransientError(f"X unreachable or garbled answer: {exc!r}")
    return TransientError(f"X call failed: {exc!r}")


def _text(exc: tw.HTTPException) -> str:
    return "; ".join(str(m) for m in exc.api_messages) or str(exc)

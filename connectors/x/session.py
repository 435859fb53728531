"""Point tweepy's AsyncClient at `api_base_url` and read rate-limit headers on every answer.

tweepy hard-codes `https://api.twitter.com`; its AsyncClient only calls `session.request(...)`
as an async context manager, so this small stand-in for aiohttp's session rewrites the host,
asks the rate-limit book before the request leaves and records the headers of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from connectors.x.ratelimit import RateLimits, route_of

TWEEPY_HOST = "https://api.twitter.com"


class RoutedSession:
    def __init__(self, base_url: str, limits: RateLimits, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.limits = limits
        self.session = session
        self.last_headers: Mapping[str, str] = {}

    def request(self, method: str, url: str | URL, **kwargs: Any) -> _Call:
        text = str(url)
        path = text[len(TWEEPY_HOST) :] if text.startswith(TWEEPY_HOST) else URL(text).path_qs
        route = route_of(method, path)
        self.limits.check(route)  # raises RateLimitError before anything is sent
        target = URL(self.base_url + path, encoded=True)
        return _Call(self, route, self.session.request(method, target, **kwargs))

    async def close(self) -> None:
        await self.session.close()


class _Call:
    """`async with session.request(...) as response`, recording the rate-limit headers."""

    def __init__(self, owner: RoutedSession, route: str, pending: Any) -> None:
        self._owner = owner
        self._route = route
        self._pending = pending

    async def __aenter__(self) -> aiohttp.ClientResponse:
        response: aiohttp.ClientResponse = await self._pending.__aenter__()
        headers = {k.lower(): v for k, v in response.headers.items()}
        self._owner.last_headers = headers
        if response.status != 429:
            self._owner.limits.update(self._route, headers)
        return response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._pending.__aexit__(exc_type, exc, tb)

"""Fetching URLs a peer names without letting it point us inside our own network (SSRF).

A signed webhook proves who sent it, not that every URL in it is harmless: an attachment URL
could name the cloud metadata service, a database admin page or anything else only this
machine can reach, and what we fetched would be shown to agents. So downloads go through a
resolver that keeps only globally routable addresses (the connection uses exactly those, so a
name cannot re-resolve elsewhere in between), IP literals are checked before connecting, and
redirects are followed by hand so every hop is checked the same way.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Refused(Exception):
    """The URL may not be fetched; the message says why, for the agent who sees it."""


def is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


def check(url: URL, *, private_ok: bool = False) -> None:
    """Raise Refused for a URL no download may reach: another scheme, or a non-public IP."""
    if url.scheme not in ("http", "https"):
        raise Refused("only http and https")
    if not url.host:
        raise Refused("no host")
    if private_ok:
        return
    try:
        ipaddress.ip_address(url.host)
    except ValueError:
        return  # a name: the resolver keeps only its public addresses
    if not is_public(url.host):
        raise Refused(f"{url.host} is not a public address")


class PublicResolver(AbstractResolver):
    """The system resolver, minus loopback, private, link-local and other reserved addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [result for result in found if is_public(result["host"])]
        if not public:
            # aiohttp shows strerror to the agent: "Cannot connect to host … [this text]".
            raise OSError(errno.EACCES, f"{host} resolves only to non-public addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class Fetched:
    data: bytes
    truncated: bool  # the body went past the limit; `data` holds only its start


def session(timeout: float, *, private_ok: bool = False) -> aiohttp.ClientSession:
    """A client session for peer-named URLs; `private_ok` is for gateways on our own network."""
    connector = None if private_ok else aiohttp.TCPConnector(resolver=PublicResolver())
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


async def fetch(
    client: aiohttp.ClientSession, url: str, limit: int, *, private_ok: bool = False
) -> Fetched:
    """GET `url` (following checked redirects), reading at most `limit` + 1 bytes.

    Raises Refused for a URL or redirect that may not be fetched, aiohttp.ClientError or
    TimeoutError when the fetch fails, and ValueError for an answer other than 2xx.
    """
    target = URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        check(target, private_ok=private_ok)
        async with client.get(target, allow_redirects=False) as response:
            if response.status in _REDIRECTS and "Location" in response.headers:
                target = response.url.join(URL(response.headers["Location"]))
                continue
            if response.status >= 300:
                raise ValueError(f"answered {response.status}")
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > limit:
                    return Fetched(bytes(data[:limit]), truncated=True)
            return Fetched(bytes(data), truncated=False)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")

"""Downloads of peer-named URLs: every redirect hop is checked, and the size limit holds."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors import public_fetch


@pytest.fixture
async def media() -> TestServer:
    app = web.Application()

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        target = "/file" if n == 0 else f"/hop/{n - 1}"
        raise web.HTTPFound(target)

    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/file", lambda _: web.Response(body=b"x" * 1000))
    app.router.add_get("/to-ftp", lambda _: web.HTTPFound("ftp://files.example/x"))
    server = TestServer(app)
    await server.start_server()
    yield server  # type: ignore[misc]
    await server.close()


async def test_redirects_are_followed_hop_by_hop_up_to_a_limit(media: TestServer) -> None:
    async with public_fetch.session(10, private_ok=True) as client:
        got = await public_fetch.fetch(client, str(media.make_url("/hop/4")), 5000, private_ok=True)
        assert got == public_fetch.Fetched(b"x" * 1000, truncated=False)
        with pytest.raises(public_fetch.Refused, match="more than 5 redirects"):
            await public_fetch.fetch(client, str(media.make_url("/hop/5")), 5000, private_ok=True)
        # A hop to another scheme is refused like a first URL would be.
        with pytest.raises(public_fetch.Refused, match="only http and https"):
            await public_fetch.fetch(client, str(media.make_url("/to-ftp")), 5000, private_ok=True)


async def test_the_size_limit_stops_reading(media: TestServer) -> None:
    async with public_fetch.session(10, private_ok=True) as client:
        got = await public_fetch.fetch(client, str(media.make_url("/file")), 100, private_ok=True)
    assert got.truncated and len(got.data) == 100


def test_only_globally_routable_addresses_are_public() -> None:
    public = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    private = ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "::1"]
    private += ["fe80::1%eth0", "::ffff:10.0.0.1", "0.0.0.0", "not-an-ip"]
    assert [public_fetch.is_public(a) for a in public] == [True, True]
    assert not any(public_fetch.is_public(a) for a in private)

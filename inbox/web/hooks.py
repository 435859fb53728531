"""Inbound channel webhooks: verify, parse, store, and only then answer 2xx.

A 2xx means the message is committed; a peer that gets anything else retries, and ingest dedupes
the retry. A bad signature stores nothing (401; Telegram's secret header gets 403).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from connectors.base import Connector
from inbox.app import Heard
from inbox.errors import BadInput, ChannelError, SignatureError
from inbox.ingest import store_messages
from inbox.types import InboundMessage
from inbox.web.app import HEARD_KEY

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    app.router.add_post("/hooks/{name}", receive)
    app.router.add_post("/hooks/{kind}/{name}", receive)
    app.router.add_get("/hooks/{name}", challenge)
    app.router.add_get("/hooks/{kind}/{name}", challenge)


def _connector(request: web.Request) -> tuple[Heard, Connector]:
    heard = request.app[HEARD_KEY]
    name = request.match_info["name"]
    kind = request.match_info.get("kind")
    try:
        config = heard.channel_config(name)
    except KeyError:
        raise _error(404, "not_found", f"no channel named {name!r}") from None
    if (kind and kind != config.type) or not config.enabled:
        raise _error(404, "not_found", f"no {kind or 'enabled'} channel named {name!r}")
    connector = heard.connector(name)
    if not connector.pushes:
        raise _error(404, "not_found", f"channel {name!r} does not receive webhooks")
    return heard, connector


async def receive(request: web.Request) -> web.Response:
    heard, connector = _connector(request)
    body = await request.read()
    try:
        connector.verify(request.headers, body)
    except SignatureError as exc:
        status = int(getattr(exc, "status", 401))
        log.warning("rejected webhook for %s: %s", connector.name, exc)
        return _json_error(status, "bad_signature", str(exc))
    try:
        messages = connector.parse(request.headers, body)
    except BadInput as exc:
        return _json_error(400, "bad_request", str(exc))
    if heard.channels is not None and type(connector).complete is not Connector.complete:
        try:
            messages = await asyncio.to_thread(_complete, heard, connector.name, messages)
        except ChannelError as exc:  # e.g. a file download failed: the peer retries later
            log.warning("webhook for %s not completed: %s", connector.name, exc)
            return _json_error(503, "unavailable", str(exc))
    results = await asyncio.to_thread(store_messages, heard, messages)
    return web.json_response(
        {
            "stored": sum(1 for r in results if r.created),
            "duplicates": sum(1 for r in results if not r.created),
            "conversations": sorted({r.conversation_id for r in results}),
        }
    )


def _complete(
    heard: Any, name: str, messages: Sequence[InboundMessage]
) -> Sequence[InboundMessage]:
    """Run the connector's `complete` on the channel loop, where the opened connector lives."""

    async def run(connector: Connector) -> Sequence[InboundMessage]:
        return await connector.complete(messages)

    result: Sequence[InboundMessage] = heard.channels.call(name, run)
    return result


async def challenge(request: web.Request) -> web.Response:
    _, connector = _connector(request)
    reply = connector.challenge(request.query)
    if reply is None:
        return _json_error(405, "method_not_allowed", "this channel takes POST only")
    return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _error(status: int, code: str, message: str) -> web.HTTPException:
    exc = web.HTTPException(
        text=json.dumps({"error": {"code": code, "message": message}}),
        content_type="application/json",
    )
    exc.set_status(status)
    return exc

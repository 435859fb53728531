"""Live updates for the workspace: a Server-Sent Events stream per open page.

The stream wakes on `inbox.live` events from this process and also polls the store every few
seconds (the highest message and event ids), so a message stored by another process — a
connector role, a worker on Redis — still reaches every open page. What it sends is only
*which* conversations changed; the page fetches their fresh HTML fragments itself.
While a stream is open the agent counts as present (`agents.last_seen_at`), which is how the
web chat knows whether to offer its offline form.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, union, update
from sqlalchemy.orm import Session

from inbox import live
from inbox.models import Agent, Event, Message
from inbox.web.app import HEARD_KEY
from inbox.web.auth import current_agent, require_agent
from inbox.web.db import in_transaction
from inbox.web.origins import foreign_origin

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0
PING_SECONDS = 15.0
STREAM_SECONDS = 600.0  # the browser reconnects; keeps proxies and presence honest
PRESENCE_EVERY = timedelta(seconds=45)
CHANGED_LIMIT = 100
STOP_KEY = web.AppKey("heard_ui_stream_stop", asyncio.Event)

Marks = tuple[int, int]


def watermark(session: Session) -> Marks:
    return (
        session.scalar(select(func.max(Message.id))) or 0,
        session.scalar(select(func.max(Event.id))) or 0,
    )


def changed_since(session: Session, marks: Marks) -> list[int]:
    """Conversations with a message or an event newer than `marks` (primary-key ranges: cheap)."""
    query: Any = union(
        select(Message.conversation_id).where(Message.id > marks[0]),
        select(Event.conversation_id).where(
            Event.id > marks[1], Event.conversation_id.is_not(None)
        ),
    ).limit(CHANGED_LIMIT)
    return sorted({int(cid) for cid in session.scalars(query) if cid is not None})


def touch(session: Session, agent_id: int) -> None:
    session.execute(
        update(Agent).where(Agent.id == agent_id).values(last_seen_at=datetime.now(UTC))
    )


async def _send(response: web.StreamResponse, kind: str, data: Mapping[str, Any]) -> None:
    await response.write(f"event: {kind}\ndata: {json.dumps(dict(data))}\n\n".encode())


@require_agent
async def stream(request: web.Request) -> web.StreamResponse:
    heard = request.app[HEARD_KEY]
    agent = current_agent(request)
    assert agent is not None
    stop = request.app[STOP_KEY]
    foreign = foreign_origin(request)
    if foreign is not None:  # another site's page must not hold an agent's stream open
        log.info("live stream for %s refused from origin %r", agent.key, foreign)
        raise web.HTTPForbidden(text="this stream is for Heard's own pages (origin not allowed)")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    marks = await in_transaction(heard, watermark)
    await in_transaction(heard, lambda s: touch(s, agent.id))
    seen_at = datetime.now(UTC)
    deadline = last_write = loop.time()
    deadline += STREAM_SECONDS
    try:
        with live.subscribe(heard) as subscription:
            await response.write(b"retry: 2000\n\n")
            await _send(response, "hello", {"agent": agent.key})
            while loop.time() < deadline and not stop.is_set():
                event = await subscription.next(POLL_SECONDS)
                if stop.is_set():
                    break
                if event is not None and event.get("type") == "typing":
                    await _send(response, "typing", event)
                    last_write = loop.time()
                    continue
                current = await in_transaction(heard, watermark)
                ids: set[int] = set()
                if current != marks:
                    ids.update(
                        await in_transaction(heard, functools.partial(changed_since, marks=marks))
                    )
                    marks = current
                if event is not None:
                    ids.update(int(i) for i in event.get("ids", ()) if isinstance(i, int))
                    if isinstance(event.get("conversation_id"), int):
                        ids.add(event["conversation_id"])
                if ids or event is not None:
                    await _send(response, "changed", {"ids": sorted(ids)})
                    last_write = loop.time()
                elif loop.time() - last_write > PING_SECONDS:
                    await response.write(b": ping\n\n")
                    last_write = loop.time()
                if datetime.now(UTC) - seen_at > PRESENCE_EVERY:
                    await in_transaction(heard, lambda s: touch(s, agent.id))
                    seen_at = datetime.now(UTC)
    except ConnectionResetError:
        log.debug("live stream of %s closed by the browser", agent.key)
    return response


async def _stop_streams(app: web.Application) -> None:
    app[STOP_KEY].set()
    live.publish(app[HEARD_KEY], {"type": "shutdown"})


def setup(app: web.Application) -> None:
    app[STOP_KEY] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    app.router.add_get("/inbox/events", stream)

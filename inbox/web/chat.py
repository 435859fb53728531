"""The web chat's HTTP side: the widget script, the visitor socket, the demo page.

Protocol (JSON frames over one WebSocket per open widget):

    visitor → Heard  {"type": "hello", "token"?, "name"?, "email"?}      first frame
                     {"type": "message", "id": client id, "text", "offline"?, "name"?, "email"?}
                     {"type": "typing", "on": bool}
    Heard → visitor  {"type": "welcome", "token", "agents_online", "title", "welcome", "history"}
                     {"type": "received", "id"}      the message is stored (stop resending it)
                     {"type": "rejected", "id", "error"}   it cannot be accepted as it is
                     {"type": "message", ...}        see connectors.webchat.connector.message_frame
                     {"type": "typing", "on", "who"}

A visitor's message is stored with external id `<visitor>:<client id>`, so the widget can
resend everything it has not seen acknowledged after a reconnect and the store keeps one copy.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import WSMsgType, web
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.webchat import WebchatConfig, WebchatConnector
from connectors.webchat import tokens as visitor_tokens
from connectors.webchat.connector import message_frame, outbound_id
from inbox import live
from inbox.app import Heard
from inbox.ingest import store_messages
from inbox.models import Agent, Message, Outbound, ThreadKey
from inbox.types import InboundMessage, Sender
from inbox.web.app import HEARD_KEY
from inbox.web.db import in_transaction
from inbox.web.origins import own_origins

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
TEMPLATES = Path(__file__).with_name("templates")
HELLO_TIMEOUT = 15.0
AGENT_SEEN_WINDOW = timedelta(minutes=2)
MAX_FRAME = 64 * 1024
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,255}\.[^@\s<>\"']{2,63}$")
NAME_LIMIT = 120
HISTORY_LIMIT = 200
STORE_POLL_SECONDS = 3.0  # replies sent by another process reach the socket this way
RATE_WINDOW = 60.0
RATE_LIMIT = 20  # messages per visitor socket per minute

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)


def visitor_key(heard: Heard, channel: WebchatConfig) -> bytes:
    """The channel's signing key: its own `secret`, else derived from the web secret."""
    if channel.secret:
        return channel.secret.encode()
    from inbox.web.auth import secret_key

    return hmac.new(secret_key(heard), f"webchat:{channel.name}".encode(), hashlib.sha256).digest()


def thread_key(visitor: str) -> str:
    return f"visitor:{visitor}"


def webchat(heard: Heard, name: str) -> WebchatConnector:
    """The enabled web chat channel called `name`, or 404."""
    try:
        config = heard.channel_config(name)
    except KeyError:
        raise web.HTTPNotFound(text=f"no web chat channel {name!r}") from None
    if not isinstance(config, WebchatConfig) or not config.enabled:
        raise web.HTTPNotFound(text=f"no web chat channel {name!r}")
    connector = heard.connector(name)
    assert isinstance(connector, WebchatConnector)
    return connector


# Store work (runs off the loop) ---------------------------------------------------------------
def agents_online(session: Session) -> bool:
    since = datetime.now(UTC) - AGENT_SEEN_WINDOW
    found = session.scalars(
        select(Agent.id)
        .where(Agent.active.is_(True), Agent.away.is_(False), Agent.last_seen_at >= since)
        .limit(1)
    ).first()
    return found is not None


def conversation_of(session: Session, account: str, visitor: str) -> int | None:
    return session.scalars(
        select(ThreadKey.conversation_id).where(
            ThreadKey.account == account, ThreadKey.key == thread_key(visitor)
        )
    ).first()


def history(session: Session, connector: WebchatConnector, visitor: str) -> list[dict[str, Any]]:
    """What the visitor sees on reload: their lines and ours, never internal notes."""
    conversation_id = conversation_of(session, connector.name, visitor)
    if conversation_id is None:
        return []
    return [frame for _, frame in lines(session, connector, conversation_id)]


def lines(
    session: Session, connector: WebchatConnector, conversation_id: int, after: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """(message id, frame) of the conversation's visible lines newer than message `after`."""
    rows = session.execute(
        select(Message, Outbound.idempotency_key)
        .outerjoin(Outbound, Outbound.message_id == Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.kind != "note",
            Message.id > after,
        )
        .order_by(Message.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    found = []
    for message, key in reversed(rows):
        if message.direction == "in":
            client_id = message.external_id.rpartition(":")[2]
            frame_id, author = f"c-{client_id}", message.sender_name or "You"
        else:
            frame_id = outbound_id(key) if key else f"m-{message.id}"
            author = connector.agent_label
        frame = message_frame(
            id=frame_id,
            direction=message.direction,
            kind=message.kind,
            text=message.text,
            author=author,
            at=message.created_at,
        )
        found.append((message.id, frame))
    return found


# The socket -----------------------------------------------------------------------------------
class VisitorSession:
    """One open widget: reads the visitor's frames, writes ours through a single queue."""

    def __init__(self, request: web.Request, connector: WebchatConnector) -> None:
        self.request = request
        self.heard = request.app[HEARD_KEY]
        self.connector = connector
        self.config = connector.chat_config
        self.ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=MAX_FRAME)
        self.outgoing: asyncio.Queue[Mapping[str, Any] | None] = asyncio.Queue()
        self.visitor = ""
        self.token = ""
        self.name = ""
        self.email: str | None = None
        self.conversation_id: int | None = None
        # Frames from the hub wait until the welcome (with the history) has gone out, so the
        # widget always sees the welcome first and never a line twice.
        self.held: list[Mapping[str, Any]] | None = []
        self.shown: set[str] = set()  # ids of lines already on the visitor's screen
        self.last_message_id = 0
        self.recent: collections.deque[float] = collections.deque()

    def push(self, frame: Mapping[str, Any]) -> None:
        if frame.get("type") == "message":
            if frame["id"] in self.shown:
                return
            self.shown.add(frame["id"])
        self.outgoing.put_nowait(frame)

    def from_hub(self, frame: Mapping[str, Any]) -> None:
        if self.held is not None:
            self.held.append(frame)
        else:
            self.push(frame)

    async def run(self) -> web.WebSocketResponse:
        await self.ws.prepare(self.request)
        writer = asyncio.create_task(self._write())
        try:
            if await self._hello():
                with self.connector.hub.connect(self.visitor, self.from_hub):
                    await self._welcome()
                    watcher = asyncio.create_task(self._watch_store())
                    try:
                        await self._read()
                    finally:
                        watcher.cancel()
        finally:
            self.outgoing.put_nowait(None)
            await writer
            await self.ws.close()
        return self.ws

    async def _write(self) -> None:
        while (frame := await self.outgoing.get()) is not None:
            if self.ws.closed:
                continue
            try:
                await self.ws.send_json(dict(frame))
            except (ConnectionError, RuntimeError):
                log.debug("web chat socket went away while writing")

    async def _hello(self) -> bool:
        try:
            frame = await self.ws.receive_json(timeout=HELLO_TIMEOUT)
        except (TypeError, ValueError, TimeoutError):
            self.push({"type": "error", "error": "the first frame must be a JSON hello"})
            return False
        if not isinstance(frame, dict) or frame.get("type") != "hello":
            self.push({"type": "error", "error": "the first frame must be a hello"})
            return False
        key = visitor_key(self.heard, self.config)
        token = frame.get("token")
        visitor = (
            visitor_tokens.verify(key, self.config.name, token) if isinstance(token, str) else None
        )
        self.visitor = visitor or visitor_tokens.new_visitor()
        self.token = visitor_tokens.issue(key, self.config.name, self.visitor)
        self._profile(frame)
        return True

    def _profile(self, frame: Mapping[str, Any]) -> str | None:
        """Take the optional name and email; returns what is wrong with them, if anything."""
        name = frame.get("name")
        if isinstance(name, str) and name.strip():
            self.name = " ".join(name.split())[:NAME_LIMIT]
        email = frame.get("email")
        if isinstance(email, str) and email.strip():
            if not EMAIL.match(email.strip()):
                return f"{email.strip()[:80]!r} does not look like an email address"
            self.email = email.strip()
        return None

    async def _welcome(self) -> None:
        def load(session: Session) -> tuple[bool, list[tuple[int, dict[str, Any]]], int | None]:
            conversation_id = conversation_of(session, self.config.name, self.visitor)
            found = lines(session, self.connector, conversation_id) if conversation_id else []
            return agents_online(session), found, conversation_id

        online, numbered, self.conversation_id = await in_transaction(self.heard, load)
        history_lines = [frame for _, frame in numbered]
        self.last_message_id = max((number for number, _ in numbered), default=0)
        self.shown.update(line["id"] for line in history_lines)
        self.push(
            {
                "type": "welcome",
                "token": self.token,
                "agents_online": online,
                "title": self.config.title,
                "welcome": self.config.welcome,
                "agent": self.connector.agent_label,
                "color": self.config.color,
                "history": history_lines,
            }
        )
        held, self.held = self.held or [], None
        for frame in held:
            self.push(frame)

    async def _watch_store(self) -> None:
        """Poll the store for lines this process's hub did not bring (several processes)."""
        while True:
            await asyncio.sleep(STORE_POLL_SECONDS)
            conversation_id = self.conversation_id
            if conversation_id is None:
                continue
            after = self.last_message_id
            read = functools.partial(
                lines, connector=self.connector, conversation_id=conversation_id, after=after
            )
            found = await in_transaction(self.heard, read)
            for number, frame in found:
                self.last_message_id = max(self.last_message_id, number)
                self.push(frame)

    async def _read(self) -> None:
        async for raw in self.ws:
            if raw.type is not WSMsgType.TEXT:
                continue
            try:
                frame = raw.json()
            except ValueError:
                self.push({"type": "error", "error": "frames must be JSON"})
                continue
            if not isinstance(frame, dict):
                continue
            if frame.get("type") == "message":
                await self._message(frame)
            elif frame.get("type") == "typing":
                self._typing(bool(frame.get("on")))

    def _typing(self, on: bool) -> None:
        if self.conversation_id is not None:
            event = {"type": "typing", "conversation_id": self.conversation_id, "on": on}
            live.publish(self.heard, {**event, "who": self.name or "Visitor"})

    async def _message(self, frame: Mapping[str, Any]) -> None:
        client_id = frame.get("id")
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            self.push({"type": "error", "error": "each message needs an id of 1-64 [A-Za-z0-9_-]"})
            return
        text = frame.get("text")
        text = text.strip() if isinstance(text, str) else ""
        problem = self._check_text(text) or self._check_rate()
        if problem:
            self.push({"type": "rejected", "id": f"c-{client_id}", "error": problem})
            return
        warning = self._profile(frame)
        offline = bool(frame.get("offline"))
        message = self._inbound(client_id, text, offline)
        results = await asyncio.to_thread(store_messages, self.heard, [message])
        self.conversation_id = results[0].conversation_id
        self.push({"type": "received", "id": f"c-{client_id}"})
        if warning:
            self.push({"type": "error", "error": f"{warning}; your message was kept"})
        if results[0].created:
            line = message_frame(
                id=f"c-{client_id}",
                direction="in",
                kind="message",
                text=text,
                author=self.name or "You",
                at=message.received_at,
            )
            self.connector.hub.send(self.visitor, line)  # the visitor's other tabs

    def _check_rate(self) -> str | None:
        now = asyncio.get_running_loop().time()
        while self.recent and now - self.recent[0] > RATE_WINDOW:
            self.recent.popleft()
        if len(self.recent) >= RATE_LIMIT:
            return "you are sending messages very fast; please wait a moment"
        self.recent.append(now)
        return None

    def _check_text(self, text: str) -> str | None:
        if not text:
            return "the message is empty"
        if len(text) > self.config.max_message_length:
            return f"the message is longer than {self.config.max_message_length} characters"
        return None

    def _inbound(self, client_id: str, text: str, offline: bool) -> InboundMessage:
        thread: dict[str, Any] = {"visitor": self.visitor, "offline": offline}
        if self.email:
            thread["email"] = self.email
        headers = {k: v for k, v in self.request.headers.items() if k in ("Origin", "User-Agent")}
        return InboundMessage(
            channel="webchat",
            account=self.config.name,
            external_id=f"{self.visitor}:{client_id}",
            sender=Sender(handle=self.visitor, name=self.name, email=self.email),
            text=text,
            received_at=datetime.now(UTC),
            thread_keys=(thread_key(self.visitor),),
            subject=f"Web chat{': ' + self.name if self.name else ''}",
            headers=headers,
            extras={"thread": thread},
        )


# Handlers -------------------------------------------------------------------------------------
async def socket(request: web.Request) -> web.StreamResponse:
    connector = webchat(request.app[HEARD_KEY], request.match_info["channel"])
    origin = request.headers.get("Origin")
    if not connector.chat_config.allows(origin, own_origins(request)):
        log.info("web chat %s refused a socket from origin %r", connector.name, origin)
        raise web.HTTPForbidden(text="this site may not open the chat (origin not allowed)")
    return await VisitorSession(request, connector).run()


def _cors(request: web.Request, config: WebchatConfig) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin and config.allows(origin, own_origins(request)):
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Vary": "Origin",
        }
    return {"Vary": "Origin"}


async def status(request: web.Request) -> web.Response:
    """Whether someone is there to answer: lets a page decide before opening the socket."""
    heard = request.app[HEARD_KEY]
    connector = webchat(heard, request.match_info["channel"])
    headers = _cors(request, connector.chat_config)
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=headers)
    online = await in_transaction(heard, agents_online)
    body = {
        "channel": connector.name,
        "title": connector.chat_config.title,
        "agents_online": online,
    }
    return web.json_response(body, headers=headers)


async def widget(request: web.Request) -> web.FileResponse:
    """The embeddable script; any site may load it (the socket checks the origin)."""
    headers = {
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    return web.FileResponse(STATIC / "chat" / "widget.js", headers=headers)


async def demo(request: web.Request) -> web.Response:
    heard = request.app[HEARD_KEY]
    chats = [c for c in heard.enabled_channels() if isinstance(c, WebchatConfig)]
    wanted = request.query.get("channel")
    chosen = next((c for c in chats if c.name == wanted), chats[0] if chats else None)
    base = heard.settings.web.public_url or f"{request.scheme}://{request.host}"
    page = _templates.get_template("chat_demo.html").render(
        channel=chosen, channels=chats, request_base=base.rstrip("/")
    )
    return web.Response(text=page, content_type="text/html", headers=DEMO_HEADERS)


DEMO_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


def setup(app: web.Application) -> None:
    app.router.add_get("/chat/widget.js", widget)
    app.router.add_get("/chat/demo", demo)
    app.router.add_get("/chat/{channel}/socket", socket)
    app.router.add_route("GET", "/chat/{channel}/status", status)
    app.router.add_route("OPTIONS", "/chat/{channel}/status", status)

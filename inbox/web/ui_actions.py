"""The workspace's forms: reply, note, assign, status, priority, tags, typing.

Each is a thin shell around one `inbox.actions` call in one transaction. A plain form post
gets a redirect back to the conversation (works without JavaScript); `app.js` posts the same
forms with `Accept: application/json` and gets `{"ok": true}` or an error it can show. After a
commit the outbox's deliver jobs are enqueued and the live views are woken.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from sqlalchemy.orm import Session

from connectors.webchat import WebchatConnector
from inbox import actions, live
from inbox.app import Heard
from inbox.errors import BadInput
from inbox.models import Conversation
from inbox.outbox import flush_enqueues
from inbox.web.app import HEARD_KEY
from inbox.web.auth import CurrentAgent, current_agent, require_agent

MAX_TEXT = 100_000
Work = Callable[[Session, Conversation, CurrentAgent, Any], object]


async def _run(heard: Heard, conversation_id: int, work: Callable[[Session], object]) -> None:
    """One transaction, then the deliver jobs it asked for, then wake the live views."""
    import asyncio

    def run() -> None:
        with heard.sessions() as session:
            with session.begin():
                work(session)
            flush_enqueues(session, heard)

    await asyncio.to_thread(run)
    live.publish(heard, {"type": "conversations", "ids": [conversation_id]})


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise web.HTTPNotFound(text="no such conversation")
    return conversation


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def action(work: Work) -> Callable[[web.Request], Any]:
    """Make a POST handler from `work(session, conversation, agent, form)`."""

    @require_agent
    async def handler(request: web.Request) -> web.StreamResponse:
        heard = request.app[HEARD_KEY]
        agent = current_agent(request)
        assert agent is not None
        try:
            conversation_id = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        form = await request.post()
        try:
            await _run(
                heard,
                conversation_id,
                lambda s: work(s, _conversation(s, conversation_id), agent, form),
            )
        except BadInput as exc:
            if _wants_json(request):
                return web.json_response({"ok": False, "error": str(exc)}, status=400)
            from inbox.web.ui_render import page

            return page(
                "ui/error.html",
                status=400,
                message=str(exc),
                agent=agent,
                csrf=_text(form, "csrf_token"),
                views=[],
                current_view="",
                search="",
            )
        if _wants_json(request):
            return web.json_response({"ok": True})
        anchor = "#reply-form" if request.path.endswith("/reply") else ""
        raise web.HTTPSeeOther(f"/inbox/c/{conversation_id}{anchor}")

    return handler


def do_reply(session: Session, conversation: Conversation, agent: CurrentAgent, form: Any) -> None:
    text = _text(form, "text").strip()
    if len(text) > MAX_TEXT:
        raise BadInput(f"the text is longer than {MAX_TEXT} characters")
    if _text(form, "mode") == "note":
        actions.add_note(session, conversation, text, agent.key)
    else:
        actions.reply(session, conversation, text, agent.key)


def do_assign(session: Session, conversation: Conversation, agent: CurrentAgent, form: Any) -> None:
    changes: dict[str, Any] = {"agent": _text(form, "assignee").strip() or None}
    if "team" in form:
        changes["team"] = _text(form, "team").strip() or None
    actions.assign(session, conversation, agent.key, **changes)


def do_status(session: Session, conversation: Conversation, agent: CurrentAgent, form: Any) -> None:
    status = _text(form, "status")
    until = _until(_text(form, "until"), _text(form, "tz")) if status == "snoozed" else None
    actions.set_status(session, conversation, status, agent.key, snoozed_until=until)


def _until(value: str, tz: str) -> datetime:
    """A `datetime-local` value in the agent's time zone (sent by app.js; UTC without it)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput("snooze needs a date and time") from None
    if moment.tzinfo is not None:
        return moment
    try:
        zone: Any = ZoneInfo(tz) if tz else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return moment.replace(tzinfo=zone).astimezone(UTC)


def do_priority(
    session: Session, conversation: Conversation, agent: CurrentAgent, form: Any
) -> None:
    actions.set_priority(session, conversation, _text(form, "priority"), agent.key)


def do_tags(session: Session, conversation: Conversation, agent: CurrentAgent, form: Any) -> None:
    add = [t for t in _text(form, "add").split(",") if t.strip()]
    remove = [t for t in _text(form, "remove").split(",") if t.strip()]
    if not add and not remove:
        raise BadInput("give a tag to add or remove")
    actions.change_tags(session, conversation, agent.key, add=add, remove=remove)


def do_merge(session: Session, conversation: Conversation, agent: CurrentAgent, form: Any) -> None:
    """Fold this conversation into another of the same customer (the page then follows it)."""
    try:
        target_id = int(_text(form, "into"))
    except ValueError:
        raise BadInput("choose the conversation to merge into") from None
    target = session.get(Conversation, target_id, with_for_update=True)
    if target is None:
        raise BadInput(f"no conversation {target_id}")
    actions.merge(session, conversation, target, agent.key)


@require_agent
async def typing(request: web.Request) -> web.StreamResponse:
    """The agent is typing: tell a web chat visitor connected to this process."""
    heard = request.app[HEARD_KEY]
    agent = current_agent(request)
    assert agent is not None
    try:
        conversation_id = int(request.match_info["id"])
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='send JSON {"on": true|false}') from None

    def load(session: Session) -> tuple[str, str] | None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.channel != "webchat":
            return None
        return conversation.account, str((conversation.thread or {}).get("visitor") or "")

    import asyncio

    def read() -> tuple[str, str] | None:
        with heard.sessions() as session:
            return load(session)

    found = await asyncio.to_thread(read)
    if found and found[1]:
        connector = heard.connector(found[0])
        if isinstance(connector, WebchatConnector):
            on = bool(body.get("on")) if isinstance(body, dict) else False
            connector.hub.send(found[1], {"type": "typing", "on": on, "who": connector.agent_label})
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    for name, work in (
        ("reply", do_reply),
        ("assign", do_assign),
        ("status", do_status),
        ("priority", do_priority),
        ("tags", do_tags),
        ("merge", do_merge),
    ):
        app.router.add_post(f"/inbox/c/{{id}}/{name}", action(work))
    app.router.add_post("/inbox/c/{id}/typing", typing)

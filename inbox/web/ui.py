"""The agents' workspace: the merged queue and the conversation page, server-rendered.

Pages work without JavaScript (links and plain forms that redirect back); `static/ui/app.js`
adds live refresh from the event stream (`ui_stream`), keyboard triage and canned responses.
Every route needs a signed-in agent; every form carries the session's CSRF token.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from inbox.errors import BadInput
from inbox.models import PRIORITIES, STATUSES, Attachment
from inbox.web import ui_actions, ui_stream
from inbox.web.app import HEARD_KEY
from inbox.web.auth import CurrentAgent, csrf_token, current_agent, require_agent
from inbox.web.db import in_transaction
from inbox.web.ui_data import (
    LIST_PARAMS,
    ONE_PARAMS,
    VIEWS,
    conversation_bundle,
    queue_filter,
    queue_page,
)
from inbox.web.ui_render import SECURITY_HEADERS, page

STATIC = Path(__file__).with_name("static")
SORTS = (("sla", "SLA due"), ("priority", "priority"), ("activity", "last activity"))


def _agent(request: web.Request) -> CurrentAgent:
    agent = current_agent(request)
    assert agent is not None  # guarded by require_agent
    return agent


def _common(request: web.Request, current_view: str = "", search: str = "") -> dict[str, Any]:
    return {
        "agent": _agent(request),
        "csrf": csrf_token(request),
        "views": [(key, label) for key, (label, _) in VIEWS.items()],
        "current_view": current_view,
        "search": search,
    }


# The queue ------------------------------------------------------------------------------------
@require_agent
async def queue(request: web.Request) -> web.StreamResponse:
    heard = request.app[HEARD_KEY]
    params = {k: v for k, v in request.query.items() if k in (*LIST_PARAMS, *ONE_PARAMS, "view")}
    try:
        chosen = queue_filter(params, _agent(request).key)
    except BadInput as exc:
        return page("ui/error.html", status=400, message=str(exc), **_common(request))
    try:
        data = await in_transaction(heard, lambda s: queue_page(s, heard, chosen))
    except BadInput as exc:  # e.g. a stale or hand-edited `after` cursor
        return page("ui/error.html", status=400, message=str(exc), **_common(request))
    view = params.get("view", "") if params.get("view") in VIEWS else ""
    if not view and not any(params.get(n) for n in (*LIST_PARAMS, *ONE_PARAMS)):
        view = "open"
    next_url = _with(params, after=data.next_cursor) if data.next_cursor else None
    context: dict[str, Any] = {
        "rows": data.rows,
        "next_url": next_url,
        "filtered": any(params.get(n) for n in (*LIST_PARAMS, *ONE_PARAMS) if n != "sort"),
    }
    if request.query.get("fragment"):
        return page("ui/_rows.html", **context)
    kinds = sorted({c.type for c in heard.enabled_channels()})
    return page(
        "ui/queue.html",
        title=VIEWS[view][0] if view else "Conversations",
        chosen=chosen,
        statuses=STATUSES,
        priorities=PRIORITIES,
        channel_kinds=kinds,
        teams=data.teams,
        tags=data.tags,
        sorts=SORTS,
        toggle=_toggler(params),
        fragment_url=_with(params, fragment="1", after=None),
        **context,
        **_common(request, view, params.get("q", "")),
    )


def _with(params: dict[str, str], **changes: str | None) -> str:
    merged = {**params, **changes}
    return "/inbox?" + urlencode({k: v for k, v in merged.items() if v})


def _toggler(params: dict[str, str]) -> Any:
    """`toggle(name, value)`: the URL with one filter switched on or off (one click per chip).

    Choosing a filter leaves the saved view's own conditions in place, so "Mine" + "email"
    means both; list filters (status, channel, priority) combine values with commas.
    """

    def toggle(name: str, value: str, keep: bool = False) -> str:
        current = params.get(name, "")
        if name in LIST_PARAMS:
            values = [v for v in current.split(",") if v]
            values = [v for v in values if v != value] if value in values else [*values, value]
            new: str | None = ",".join(values) or None
        else:
            new = None if current == value and not keep else value
        return _with(params, **{name: new, "after": None})

    return toggle


# The conversation -----------------------------------------------------------------------------
@require_agent
async def conversation(request: web.Request) -> web.StreamResponse:
    heard = request.app[HEARD_KEY]
    conversation_id = _id(request, "id")
    bundle = await in_transaction(heard, lambda s: conversation_bundle(s, heard, conversation_id))
    if bundle is None:
        return page(
            "ui/error.html", status=404, message="No such conversation.", **_common(request)
        )
    if bundle.conversation.merged_into_id:
        raise web.HTTPSeeOther(f"/inbox/c/{bundle.conversation.merged_into_id}")
    fragment = request.query.get("fragment")
    if fragment == "thread":
        return page("ui/_thread.html", b=bundle)
    if fragment == "events":
        return page("ui/_events.html", b=bundle)
    try:
        config = heard.channel_config(bundle.conversation.account)
        label = config.display_name or config.name
    except KeyError:
        label = bundle.conversation.account
    return page(
        "ui/conversation.html",
        b=bundle,
        channel_label=label,
        priorities=PRIORITIES,
        **_common(request),
    )


def _id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


@require_agent
async def attachment(request: web.Request) -> web.StreamResponse:
    """Download a stored attachment; always as a download, never rendered in our origin."""
    heard = request.app[HEARD_KEY]
    attachment_id = _id(request, "id")

    def load(session: Session) -> tuple[str, str, bytes | None, str | None, str] | None:
        row = session.get(Attachment, attachment_id)
        if row is None:
            return None
        return row.filename, row.content_type, row.data, row.path, row.storage

    found = await in_transaction(heard, load)
    if found is None or found[4] == "skipped":
        raise web.HTTPNotFound(text="no such attachment")
    filename, content_type, data, path, _ = found
    if data is None and path:
        full = Path(path) if Path(path).is_absolute() else heard.attachments_dir / path
        data = full.read_bytes()
    safe_name = "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in filename)
    guessed = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": _disposition(safe_name),
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=3600",
    }
    return web.Response(body=data or b"", content_type=_plain_type(guessed), headers=headers)


def _plain_type(content_type: str) -> str:
    """Strip parameters (aiohttp wants them apart) and refuse odd values."""
    base = content_type.split(";", 1)[0].strip().lower()
    return base if "/" in base and " " not in base else "application/octet-stream"


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_") or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/inbox")


def setup(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/inbox", queue)
    app.router.add_get("/inbox/c/{id}", conversation)
    app.router.add_get("/inbox/attachments/{id}", attachment)
    app.router.add_static("/static/", STATIC, append_version=False)
    ui_actions.setup(app)
    ui_stream.setup(app)

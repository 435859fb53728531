"""The REST API under /api/v1: the agents' queue and what they do to conversations.

Every route needs a signed-in agent (session cookie + CSRF token, or a bearer token); errors
have one shape (`inbox.web.errors`). Request bodies are pydantic models, so a bad field is
reported with its name and the same models describe the bodies in the OpenAPI document
(`inbox.web.openapi`). Listing goes through `inbox.queries`, the one place the queue is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox import actions, live, queries
from inbox.models import Agent, Attachment, Conversation, Message
from inbox.web.app import HEARD_KEY
from inbox.web.auth import CurrentAgent, csrf_token, current_agent, require_admin, require_agent
from inbox.web.db import in_transaction
from inbox.web.errors import ApiError

PREFIX = "/api/v1"
MAX_TEXT = 100_000
MAX_ID = 2**63 - 1
T = TypeVar("T", bound=BaseModel)

LIST_PARAMS = {
    "status", "channel", "account", "team", "assignee", "tag", "priority", "sla", "q",
    "sort", "limit", "cursor",
}  # fmt: skip
MULTI_PARAMS = ("status", "channel", "account", "priority")


# Request bodies --------------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplyBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    html: Annotated[str | None, Field(max_length=MAX_TEXT * 4)] = None


class NoteBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class AssignBody(Body):
    agent: Annotated[str | None, Field(max_length=100, description="agent key, 'me' or null")] = (
        None
    )
    team: Annotated[str | None, Field(max_length=100)] = None


class StatusBody(Body):
    status: Literal["open", "pending", "snoozed", "resolved"]
    snoozed_until: AwareDatetime | None = None


class TagsBody(Body):
    add: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)] = []
    remove: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)] = []


class PriorityBody(Body):
    priority: Literal["low", "normal", "high", "urgent"]


class MergeBody(Body):
    into: Annotated[int, Field(ge=1, le=MAX_ID, description="the conversation to keep")]


BODIES: dict[str, type[Body]] = {
    "ReplyBody": ReplyBody,
    "NoteBody": NoteBody,
    "AssignBody": AssignBody,
    "StatusBody": StatusBody,
    "TagsBody": TagsBody,
    "PriorityBody": PriorityBody,
    "MergeBody": MergeBody,
}


async def read_body(request: web.Request, model: type[T]) -> T:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send a JSON body (application/json)")
    try:
        raw = await request.text()
        body = model.model_validate_json(raw or "null")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "the body is not UTF-8") from None
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        raise ApiError(400, "invalid", "the request body is not valid", details) from None
    nul = list(_nul_fields(body.model_dump(), ""))
    if nul:
        details = [{"field": f, "problem": "contains a NUL character"} for f in nul]
        raise ApiError(400, "invalid", "the request body is not valid", details)
    return body


def _nul_fields(value: Any, path: str) -> Iterator[str]:
    """Text with NUL characters cannot be stored (PostgreSQL refuses it): reject it up front."""
    if isinstance(value, str) and "\x00" in value:
        yield path or "(body)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nul_fields(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields(item, f"{path}.{index}")


# Helpers ---------------------------------------------------------------------------------------
def _agent(request: web.Request) -> CurrentAgent:
    agent = current_agent(request)
    assert agent is not None  # guarded by require_agent
    return agent


def _conversation_id(request: web.Request) -> int:
    value = int(request.match_info["id"])
    if value > MAX_ID:
        raise ApiError(404, "not_found", "no such conversation")
    return value


def _load(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise ApiError(404, "not_found", f"no conversation {conversation_id}")
    return conversation


def _open_for_change(session: Session, conversation_id: int) -> Conversation:
    conversation = _load(session, conversation_id)
    if conversation.merged_into_id is not None:
        raise ApiError(
            409,
            "merged",
            f"this conversation was merged into {conversation.merged_into_id}; act on that one",
            {"merged_into_id": conversation.merged_into_id},
        )
    return conversation


async def _change(
    request: web.Request, work: Callable[[Session, Conversation], Any], status: int = 200
) -> web.Response:
    """Runs one action on the conversation in a transaction and answers with the result."""
    heard = request.app[HEARD_KEY]
    conversation_id = _conversation_id(request)

    def run(session: Session) -> dict[str, Any]:
        conversation = _open_for_change(session, conversation_id)
        extra = work(session, conversation)
        session.flush()
        session.refresh(conversation)
        body = {"conversation": queries.summary_json(conversation)}
        if isinstance(extra, dict):
            body.update(extra)
        return body

    body = await in_transaction(heard, run)
    live.publish(heard, {"type": "conversations", "ids": [conversation_id]})
    return web.json_response(body, status=status)


# Routes ----------------------------------------------------------------------------------------
@require_agent
async def me(request: web.Request) -> web.Response:
    agent = _agent(request)
    body: dict[str, Any] = {"key": agent.key, "name": agent.name, "role": agent.role}
    body["csrf_token"] = csrf_token(request) if agent.via == "session" else None
    return web.json_response(body)


def queue_filter(request: web.Request, agent: CurrentAgent) -> queries.QueueFilter:
    """The listing's query string as a QueueFilter; shared with the UI's queue page."""
    query = request.query
    unknown = sorted(set(query) - LIST_PARAMS)
    if unknown:
        raise ApiError(400, "bad_request", f"unknown query parameter(s): {', '.join(unknown)}")
    bad = sorted({name for name, value in query.items() if "\x00" in value})
    if bad:
        raise ApiError(400, "bad_request", f"NUL character in: {', '.join(bad)}")
    lists = {
        name: [v.strip() for raw in query.getall(name, []) for v in raw.split(",") if v.strip()]
        for name in MULTI_PARAMS
    }
    single = {}
    for name in ("team", "assignee", "tag", "sla", "q", "sort", "limit", "cursor"):
        values = query.getall(name, [])
        if len(values) > 1:
            raise ApiError(400, "bad_request", f"give {name} once")
        single[name] = values[0] if values else None
    assignee = agent.key if single["assignee"] == "me" else single["assignee"]
    limit = single["limit"] or "50"
    if not limit.isdigit() or len(limit) > 4:
        raise ApiError(400, "bad_request", f"limit must be between 1 and {queries.MAX_LIMIT}")
    return queries.QueueFilter(
        status=lists["status"],
        channel=lists["channel"],
        account=lists["account"],
        priority=lists["priority"],
        team=single["team"] or None,
        assignee=assignee or None,
        tag=single["tag"] or None,
        sla=single["sla"] or None,
        q=single["q"],
        sort=single["sort"] or "sla",
        limit=int(limit),
        after=single["cursor"] or None,
    )


@require_agent
async def list_conversations(request: web.Request) -> web.Response:
    f = queue_filter(request, _agent(request))

    def run(session: Session) -> dict[str, Any]:
        page = queries.list_conversations(session, f)
        return {
            "items": [queries.summary_json(c, page.now) for c in page.items],
            "next_cursor": page.next_cursor,
        }

    return web.json_response(await in_transaction(request.app[HEARD_KEY], run))


@require_agent
async def get_conversation(request: web.Request) -> web.Response:
    conversation_id = _conversation_id(request)

    def run(session: Session) -> dict[str, Any]:
        conversation = queries.get_conversation(session, conversation_id)
        if conversation is None:
            raise ApiError(404, "not_found", f"no conversation {conversation_id}")
        body = queries.conversation_json(session, conversation)
        body["other_conversations"] = [
            queries.summary_json(c) for c in queries.other_conversations(session, conversation)
        ]
        return body

    return web.json_response(await in_transaction(request.app[HEARD_KEY], run))


@require_agent
async def reply(request: web.Request) -> web.Response:
    body = await read_body(request, ReplyBody)
    author = _agent(request).key

    def work(session: Session, conversation: Conversation) -> dict[str, Any]:
        outbound = actions.reply(session, conversation, body.text, author, html=body.html)
        message = queries.message_json(_message(session, outbound.message_id))
        return {"message": message, "outbound": {"id": outbound.id, "status": outbound.status}}

    return await _change(request, work, status=201)


def _message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    assert message is not None
    return message


@require_agent
async def note(request: web.Request) -> web.Response:
    body = await read_body(request, NoteBody)
    author = _agent(request).key

    def work(session: Session, conversation: Conversation) -> dict[str, Any]:
        message = actions.add_note(session, conversation, body.text, author)
        return {"message": queries.message_json(message)}

    return await _change(request, work, status=201)


@require_agent
async def assign(request: web.Request) -> web.Response:
    body = await read_body(request, AssignBody)
    if not body.model_fields_set:
        raise ApiError(400, "invalid", "give agent and/or team (null to unassign)")
    actor = _agent(request).key
    options: dict[str, Any] = {}
    if "agent" in body.model_fields_set:
        options["agent"] = actor if body.agent == "me" else body.agent
    if "team" in body.model_fields_set:
        options["team"] = body.team

    def work(session: Session, conversation: Conversation) -> dict[str, Any]:
        return {"changes": actions.assign(session, conversation, actor, **options)}

    return await _change(request, work)


@require_agent
async def set_status(request: web.Request) -> web.Response:
    body = await read_body(request, StatusBody)
    actor = _agent(request).key
    return await _change(
        request,
        lambda s, c: actions.set_status(s, c, body.status, actor, snoozed_until=body.snoozed_until),
    )


@require_agent
async def change_tags(request: web.Request) -> web.Response:
    body = await read_body(request, TagsBody)
    actor = _agent(request).key
    return await _change(
        request, lambda s, c: actions.change_tags(s, c, actor, add=body.add, remove=body.remove)
    )


@require_agent
async def set_priority(request: web.Request) -> web.Response:
    body = await read_body(request, PriorityBody)
    actor = _agent(request).key
    return await _change(request, lambda s, c: actions.set_priority(s, c, body.priority, actor))


@require_agent
async def merge(request: web.Request) -> web.Response:
    """Merges this conversation into `into`; answers with the conversation that remains."""
    body = await read_body(request, MergeBody)
    actor = _agent(request).key
    heard = request.app[HEARD_KEY]
    source_id = _conversation_id(request)

    def run(session: Session) -> dict[str, Any]:
        first, second = sorted((source_id, body.into))  # lock in one order: no deadlocks
        _load(session, first)
        _load(session, second)
        source = _open_for_change(session, source_id)
        target = _open_for_change(session, body.into)
        actions.merge(session, source, target, actor)
        session.flush()
        session.refresh(target)
        return {"conversation": queries.summary_json(target)}

    result = await in_transaction(heard, run)
    live.publish(heard, {"type": "conversations", "ids": [source_id, body.into]})
    return web.json_response(result)


@require_agent
async def list_agents(request: web.Request) -> web.Response:
    """Everyone can see who to assign to; admins also see each agent's open load."""
    show_load = _agent(request).is_admin

    def run(session: Session) -> list[dict[str, Any]]:
        agents = session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.key))
        load: dict[str, int] = {}
        if show_load:
            rows = session.execute(
                select(Conversation.assignee, func.count())
                .where(Conversation.status.in_(("open", "pending")))
                .where(Conversation.assignee.is_not(None))
                .group_by(Conversation.assignee)
            )
            load = {key: count for key, count in rows if key is not None}
        out = []
        for agent in agents:
            item: dict[str, Any] = {
                "key": agent.key,
                "name": agent.name,
                "role": agent.role,
                "away": agent.away,
            }
            if show_load:
                item["open_conversations"] = load.get(agent.key, 0)
                item["capacity"] = agent.capacity
            out.append(item)
        return out

    return web.json_response({"items": await in_transaction(request.app[HEARD_KEY], run)})


@require_admin
async def agents_load(request: web.Request) -> web.Response:
    """Admin only: open and pending conversations per assignee and per team."""

    def run(session: Session) -> dict[str, Any]:
        def counts(column: Any) -> dict[str, int]:
            rows = session.execute(
                select(column, func.count())
                .where(Conversation.status.in_(("open", "pending")))
                .group_by(column)
            )
            return {str(key) if key is not None else "": n for key, n in rows}

        return {"by_agent": counts(Conversation.assignee), "by_team": counts(Conversation.team)}

    return web.json_response(await in_transaction(request.app[HEARD_KEY], run))


@require_admin
async def show_rules(request: web.Request) -> web.Response:
    """Admin only: the rules in force (with file:line), teams and SLA policies."""
    from inbox.rulebook import rules_for

    heard = request.app[HEARD_KEY]

    def run(session: Session) -> dict[str, Any]:
        ruleset = rules_for(heard, session)
        origins = list(ruleset.origins) + [None] * len(ruleset.rules)
        return {
            "fingerprint": ruleset.fingerprint,
            "rules": [
                {"origin": origin, **rule.model_dump(mode="json", exclude_defaults=True)}
                for rule, origin in zip(ruleset.rules, origins, strict=False)
            ],
            "teams": {
                k: v.model_dump(mode="json", exclude_defaults=True)
                for k, v in ruleset.teams.items()
            },
            "slas": {
                k: v.model_dump(mode="json", exclude_defaults=True) for k, v in ruleset.slas.items()
            },
        }

    return web.json_response(await in_transaction(heard, run))


@require_agent
async def download_attachment(request: web.Request) -> web.Response:
    """The file as an attachment download: never rendered inline, so it cannot run script."""
    heard = request.app[HEARD_KEY]
    attachment_id = int(request.match_info["id"])
    if attachment_id > MAX_ID:
        raise ApiError(404, "not_found", "no such attachment")

    def run(session: Session) -> tuple[str, bytes | None]:
        from inbox.attachments import AttachmentStore

        row = session.get(Attachment, attachment_id)
        if row is None:
            raise ApiError(404, "not_found", f"no attachment {attachment_id}")
        return row.filename, AttachmentStore(heard.attachments_dir).read(row)

    filename, data = await in_transaction(heard, run)
    if data is None:
        raise ApiError(410, "gone", "this attachment was not kept (too large or skipped)")
    safe = "".join(c if c.isalnum() or c in "._- " else "_" for c in filename)[:200] or "file"
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def setup(app: web.Application) -> None:
    from inbox.web import openapi

    r = app.router
    r.add_get(f"{PREFIX}/me", me)
    r.add_get(f"{PREFIX}/conversations", list_conversations)
    r.add_get(PREFIX + r"/conversations/{id:\d{1,19}}", get_conversation)
    for name, handler in (
        ("replies", reply),
        ("notes", note),
        ("assign", assign),
        ("status", set_status),
        ("tags", change_tags),
        ("priority", set_priority),
        ("merge", merge),
    ):
        r.add_post(PREFIX + r"/conversations/{id:\d{1,19}}/" + name, handler)
    r.add_get(f"{PREFIX}/agents", list_agents)
    r.add_get(f"{PREFIX}/load", agents_load)
    r.add_get(f"{PREFIX}/rules", show_rules)
    r.add_get(PREFIX + r"/attachments/{id:\d{1,19}}", download_attachment)
    r.add_get(f"{PREFIX}/openapi.json", openapi.serve)

"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json.

Request bodies come from the pydantic models the handlers validate with, so the document
cannot drift from what the API accepts; responses are written here once, next to each other,
and a schemathesis test checks the running API against all of it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inbox.models import PRIORITIES, STATUSES
from inbox.queries import MAX_LIMIT, SLA_STATES, SORTS

REF = "#/components/schemas/{model}"
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _obj(props: dict[str, Any], *, extra: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(props),
        "properties": props,
        "additionalProperties": extra,
    }


CONTACT = _obj({"id": {"type": "integer"}, "name": {"type": "string"}, "email": NULLABLE_STR})
SUMMARY = _obj(
    {
        "id": {"type": "integer"},
        "reference": NULLABLE_STR,
        "channel": {"type": "string"},
        "account": {"type": "string"},
        "status": {"enum": list(STATUSES)},
        "subject": {"type": "string"},
        "preview": {"type": "string"},
        "contact": CONTACT,
        "team": NULLABLE_STR,
        "assignee": NULLABLE_STR,
        "priority": {"enum": list(PRIORITIES)},
        "tags": {"type": "array", "items": {"type": "string"}},
        "sla_due": NULLABLE_TIME,
        "sla_state": {"enum": ["on_track", "due_soon", "breached", None]},
        "first_response_due": NULLABLE_TIME,
        "resolution_due": NULLABLE_TIME,
        "snoozed_until": NULLABLE_TIME,
        "last_activity_at": TIME,
        "created_at": TIME,
        "updated_at": TIME,
    }
)
ATTACHMENT = _obj(
    {
        "id": {"type": "integer"},
        "filename": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "inline": {"type": "boolean"},
        "stored": {"type": "boolean"},
        "skipped_reason": NULLABLE_STR,
    }
)
MESSAGE = _obj(
    {
        "id": {"type": "integer"},
        "direction": {"enum": ["in", "out"]},
        "kind": {"type": "string"},
        "sender_kind": {"type": "string"},
        "author": NULLABLE_STR,
        "sender": _obj({"handle": {"type": "string"}, "name": {"type": "string"}}),
        "subject": {"type": "string"},
        "text": {"type": "string"},
        "html": NULLABLE_STR,
        "attachments": {"type": "array", "items": _ref("Attachment")},
        "external_id": {"type": "string"},
        "delivery_status": NULLABLE_STR,
        "flags": {"type": "array"},
        "full_text": NULLABLE_STR,
        "original_text": NULLABLE_STR,
        "no_auto_reply_reason": NULLABLE_STR,
        "edited_at": NULLABLE_TIME,
        "created_at": TIME,
    }
)
EVENT = _obj(
    {
        "id": {"type": "integer"},
        "type": {"type": "string"},
        "actor": {"type": "string"},
        "data": {"type": "object"},
        "created_at": TIME,
    }
)
IDENTITY = _obj(
    {
        "channel": {"type": "string"},
        "handle": {"type": "string"},
        "verified": {"type": "boolean"},
    }
)
CONVERSATION = {
    "allOf": [
        _ref("ConversationSummary"),
        {
            "type": "object",
            "required": [
                "messages",
                "events",
                "merged_into_id",
                "other_conversations",
                "is_public",
                "language",
                "sla_policy",
                "first_response_at",
                "resolved_at",
                "no_auto_reply_reason",
            ],
            "properties": {
                "contact": {
                    "type": "object",
                    "required": ["identities", "tags"],
                    "properties": {
                        "identities": {"type": "array", "items": IDENTITY},
                        "tags": {"type": "array"},
                    },
                },
                "is_public": {"type": "boolean"},
                "language": NULLABLE_STR,
                "sla_policy": NULLABLE_STR,
                "first_response_at": NULLABLE_TIME,
                "resolved_at": NULLABLE_TIME,
                "no_auto_reply_reason": NULLABLE_STR,
                "messages": {"type": "array", "items": _ref("Message")},
                "events": {"type": "array", "items": _ref("Event")},
                "merged_into_id": {"type": ["integer", "null"]},
                "other_conversations": {"type": "array", "items": _ref("ConversationSummary")},
            },
        },
    ]
}
ERROR = _obj(
    {
        "error": _obj(
            {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            }
        )
    }
)
CHANGED = {
    "type": "object",
    "required": ["conversation"],
    "properties": {"conversation": _ref("ConversationSummary")},
}
AGENT = {
    "type": "object",
    "required": ["key", "name", "role", "away"],
    "properties": {
        "key": {"type": "string"},
        "name": {"type": "string"},
        "role": {"enum": ["agent", "admin"]},
        "away": {"type": "boolean"},
        "open_conversations": {"type": "integer"},
        "capacity": {"type": "integer"},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


COMMON_ERRORS = {
    "401": _error("no session or token, or the token is unknown"),
    "403": _error("CSRF token missing on a cookie request, or the role does not allow it"),
}
ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}


def _list_param(name: str, values: tuple[str, ...] | None, doc: str) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string"}
    if values:
        items = {"enum": list(values)}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": doc + " (repeat or comma-separate for several)",
        "schema": {"type": "array", "items": items},
        "style": "form",
        "explode": True,
    }


def _param(name: str, schema: dict[str, Any], doc: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": doc, "schema": schema}


LIST_PARAMS = [
    _list_param("status", STATUSES, "conversation status"),
    _list_param("channel", None, "channel kind (email, telegram, x, webchat, webhook)"),
    _list_param("account", None, "channel account name"),
    _list_param("priority", PRIORITIES, "priority"),
    _param("team", {"type": "string"}, "owning team"),
    _param("assignee", {"type": "string"}, "agent key, `me` or `unassigned`"),
    _param("tag", {"type": "string"}, "conversations carrying this tag"),
    _param("sla", {"enum": list(SLA_STATES)}, "SLA state: due within the hour, or breached"),
    _param("q", {"type": "string", "maxLength": 200}, "free text: subject, customer, messages"),
    _param("sort", {"enum": list(SORTS)}, "sla (due first), priority, activity, created"),
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "page size"),
    _param("cursor", {"type": "string"}, "`next_cursor` of the previous page"),
]


def _action(
    summary: str, body: str, status: str = "200", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = CHANGED
    if extra:
        schema = {
            "allOf": [CHANGED, {"type": "object", "required": list(extra), "properties": extra}]
        }
    return {
        "post": {
            "summary": summary,
            "parameters": [ID_PARAM],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(body)}},
            },
            "responses": {
                status: _json("done", schema),
                "400": _error("the body is not valid; `details` says which field and why"),
                "404": _error("no such conversation"),
                "409": _error("the conversation was merged into another"),
                "415": _error("the body is not JSON"),
                **COMMON_ERRORS,
            },
        }
    }


def document() -> dict[str, Any]:
    from inbox.web.api import BODIES

    schemas: dict[str, Any] = {
        "Error": ERROR,
        "ConversationSummary": SUMMARY,
        "Conversation": CONVERSATION,
        "Message": MESSAGE,
        "Attachment": ATTACHMENT,
        "Event": EVENT,
    }
    for name, model in BODIES.items():
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    message_out = {"message": _ref("Message")}
    reply_out = {
        **message_out,
        "outbound": _obj({"id": {"type": "integer"}, "status": {"type": "string"}}),
    }
    c = "/conversations/{id}"
    paths = {
        "/me": {
            "get": {
                "summary": "who is signed in (and the CSRF token for cookie sessions)",
                "responses": {
                    "200": _json(
                        "the agent",
                        _obj(
                            {
                                "key": {"type": "string"},
                                "name": {"type": "string"},
                                "role": {"enum": ["agent", "admin"]},
                                "csrf_token": NULLABLE_STR,
                            }
                        ),
                    ),
                    **COMMON_ERRORS,
                },
            }
        },
        "/conversations": {
            "get": {
                "summary": "the merged queue, filtered and sorted, one keyset page",
                "parameters": LIST_PARAMS,
                "responses": {
                    "200": _json(
                        "a page",
                        _obj(
                            {
                                "items": {"type": "array", "items": _ref("ConversationSummary")},
                                "next_cursor": NULLABLE_STR,
                            }
                        ),
                    ),
                    "400": _error("a filter is not valid"),
                    **COMMON_ERRORS,
                },
            }
        },
        c: {
            "get": {
                "summary": "a conversation with its customer, messages and events",
                "parameters": [ID_PARAM],
                "responses": {
                    "200": _json("the conversation", _ref("Conversation")),
                    "404": _error("no such conversation"),
                    **COMMON_ERRORS,
                },
            }
        },
        c + "/replies": _action(
            "reply on the conversation's own channel (stops the first-response clock)",
            "ReplyBody",
            "201",
            reply_out,
        ),
        c + "/notes": _action("an internal note for agents", "NoteBody", "201", message_out),
        c + "/assign": _action(
            "assign to an agent (`me`) and/or a team; null unassigns",
            "AssignBody",
            extra={"changes": {"type": "object"}},
        ),
        c + "/status": _action("open, pending, snoozed (until) or resolved", "StatusBody"),
        c + "/tags": _action("add and remove tags", "TagsBody"),
        c + "/priority": _action("set the priority", "PriorityBody"),
        c + "/merge": _action(
            "merge this conversation into another of the same customer", "MergeBody"
        ),
        "/agents": {
            "get": {
                "summary": "active agents (admins also see each one's open load)",
                "responses": {
                    "200": _json("agents", _obj({"items": {"type": "array", "items": AGENT}})),
                    **COMMON_ERRORS,
                },
            }
        },
        "/load": {
            "get": {
                "summary": "admin only: open conversations per agent and per team",
                "responses": {
                    "200": _json(
                        "counts",
                        _obj(
                            {
                                "by_agent": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                                "by_team": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                            }
                        ),
                    ),
                    **COMMON_ERRORS,
                },
            }
        },
        "/rules": {
            "get": {
                "summary": "admin only: the rules in force with file:line, teams and SLA policies",
                "responses": {
                    "200": _json(
                        "the rules",
                        _obj(
                            {
                                "fingerprint": {"type": "string"},
                                "rules": {"type": "array", "items": {"type": "object"}},
                                "teams": {"type": "object"},
                                "slas": {"type": "object"},
                            }
                        ),
                    ),
                    **COMMON_ERRORS,
                },
            }
        },
        "/attachments/{id}": {
            "get": {
                "summary": "download an attachment (always as a download, never inline)",
                "parameters": [ID_PARAM],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"application/octet-stream": {"schema": {}}},
                    },
                    "404": _error("no such attachment"),
                    "410": _error("the attachment was not kept"),
                    **COMMON_ERRORS,
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Heard API",
            "version": "1",
            "description": (
                "The agents' REST API. Authenticate with `Authorization: Bearer <token>` "
                "(`heard tokens create --agent KEY`), or with the session cookie from "
                "`POST /login` plus the `X-CSRF-Token` header on every POST."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "heard_session"},
            },
        },
    }


async def serve(request: web.Request) -> web.Response:
    """Public, like any API description: it holds no data."""
    return web.json_response(document())

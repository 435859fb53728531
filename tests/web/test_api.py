"""The REST API against a running app, on SQLite and PostgreSQL: routes, filters, permissions."""

# Fixtures are imported from tests.web.api_env, so test arguments shadow them by design.
# ruff: noqa: F811

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from inbox import accounts
from inbox.models import Conversation, Event, Outbound
from inbox.web.app import make_app
from tests.conftest import MakeHeard
from tests.web.api_env import ApiEnv, api, cheap_kdf  # noqa: F401

CID = "/api/v1/conversations/{}"
ROUTES = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/conversations"),
    ("GET", CID.format(1)),
    ("POST", CID.format(1) + "/replies"),
    ("POST", CID.format(1) + "/notes"),
    ("POST", CID.format(1) + "/assign"),
    ("POST", CID.format(1) + "/status"),
    ("POST", CID.format(1) + "/tags"),
    ("POST", CID.format(1) + "/priority"),
    ("POST", CID.format(1) + "/merge"),
    ("GET", "/api/v1/agents"),
    ("GET", "/api/v1/load"),
    ("GET", "/api/v1/rules"),
    ("GET", "/api/v1/attachments/1"),
]


def assert_error(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_refuses_a_caller_without_session_or_token(
    api: ApiEnv, method: str, path: str
) -> None:
    api.seed("m1")
    status, body = await api.call(method, path, who=None, json={"text": "hi"})
    assert status == 401
    assert_error(body, "unauthenticated")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_refuses_an_unknown_token(api: ApiEnv, method: str, path: str) -> None:
    status, body = await api.call(
        method, path, who=None, headers={"Authorization": "Bearer hrd_not-a-real-token"}
    )
    assert status == 401
    assert_error(body, "unauthenticated")


async def test_me_names_the_token_holder(api: ApiEnv) -> None:
    status, body = await api.call("GET", "/api/v1/me", who="boss")
    assert status == 200
    assert body == {"key": "boss", "name": "The Boss", "role": "admin", "csrf_token": None}


# Listing ------------------------------------------------------------------------------------
async def ids(api: ApiEnv, **params: Any) -> list[int]:
    status, body = await api.call("GET", "/api/v1/conversations", params=params)
    assert status == 200, body
    return [item["id"] for item in body["items"]]


async def test_list_filters_each_narrow_the_queue(api: ApiEnv) -> None:
    now = datetime.now(UTC)
    a = api.seed("a", text="Invoice missing", handle="c-a", name="Alice")
    b = api.seed("b", text="Hello there", handle="c-b", account="sms")
    c = api.seed("c", text="Refund please", handle="c-c")
    d = api.seed("d", text="Other", handle="c-d")
    api.update(
        a, assignee="ann", team="billing", priority=3, first_response_due=now - timedelta(minutes=5)
    )
    api.update(b, assignee="bob", team="support", first_response_due=now + timedelta(minutes=20))
    api.update(c, status="pending", first_response_due=now + timedelta(hours=5))
    api.update(d, status="resolved")
    await api.call("POST", CID.format(c) + "/tags", json={"add": ["vip"]})

    assert set(await ids(api)) == {a, b, c, d}
    assert set(await ids(api, status="open")) == {a, b}
    assert set(await ids(api, status="open,pending")) == {a, b, c}
    assert set(await ids(api, status=["pending", "resolved"])) == {c, d}
    assert await ids(api, account="sms") == [b]
    assert set(await ids(api, channel="webhook")) == {a, b, c, d}
    assert await ids(api, channel="email") == []
    assert await ids(api, team="billing") == [a]
    assert await ids(api, assignee="me") == [a]
    assert await ids(api, assignee="bob") == [b]
    assert set(await ids(api, assignee="unassigned")) == {c, d}
    assert await ids(api, tag="vip") == [c]
    assert await ids(api, priority="urgent") == [a]
    assert set(await ids(api, priority="normal")) == {b, c, d}
    assert await ids(api, sla="breached") == [a]
    assert await ids(api, sla="due_soon") == [b]
    assert await ids(api, q="refund") == [c]
    assert await ids(api, q="ALICE") == [a]
    assert await ids(api, q="c-b") == [b]
    assert await ids(api, q="100%_") == []


async def test_list_items_carry_what_the_queue_shows(api: ApiEnv) -> None:
    due = datetime.now(UTC) - timedelta(minutes=1)
    cid = api.seed("a", text="Where is my parcel?", name="Alice")
    api.update(cid, first_response_due=due, assignee="ann")
    _, body = await api.call("GET", "/api/v1/conversations")
    [item] = body["items"]
    assert item["id"] == cid and item["channel"] == "webhook" and item["account"] == "forms"
    assert item["contact"]["name"] == "Alice"
    assert item["preview"] == "Where is my parcel?"
    assert item["assignee"] == "ann" and item["priority"] == "normal"
    assert item["sla_state"] == "breached"
    assert datetime.fromisoformat(item["sla_due"]) == due.replace(microsecond=due.microsecond)
    assert body["next_cursor"] is None


@pytest.mark.parametrize("sort", ["sla", "priority", "activity", "created"])
async def test_keyset_pages_walk_every_row_once_in_sort_order(api: ApiEnv, sort: str) -> None:
    now = datetime.now(UTC)
    made = []
    for i in range(7):
        cid = api.seed(f"m{i}", handle=f"c{i}")
        # Ties on purpose (i % 3) so the id tiebreak is exercised.
        api.update(
            cid,
            priority=i % 3,
            first_response_due=now + timedelta(minutes=10 * (i % 3)) if i != 6 else None,
            last_activity_at=now - timedelta(minutes=i % 3),
        )
        made.append(cid)
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        params = {"sort": sort, "limit": "3", **({"cursor": cursor} if cursor else {})}
        status, body = await api.call("GET", "/api/v1/conversations", params=params)
        assert status == 200, body
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    with api.heard.sessions() as session:
        rows = {c.id: c for c in session.scalars(select(Conversation))}
    keys = {
        "sla": lambda c: (c.sla_due_at, c.id),
        "priority": lambda c: (-c.priority, c.sla_due_at, c.id),
        "activity": lambda c: (-c.last_activity_at.timestamp(), -c.id),
        "created": lambda c: -c.id,
    }
    assert seen == sorted(made, key=lambda i: keys[sort](rows[i]))  # type: ignore[no-untyped-call]
    if sort == "sla":
        assert seen[-1] == made[6]  # no SLA sorts last


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"status": "bogus"}, "status must be one of"),
        ({"priority": "meh"}, "priority must be one of"),
        ({"sla": "late"}, "sla must be one of"),
        ({"sort": "name"}, "sort must be one of"),
        ({"limit": "0"}, "limit must be between"),
        ({"limit": "abc"}, "limit must be between"),
        ({"limit": "100000"}, "limit must be between"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"frobnicate": "1"}, "unknown query parameter"),
        ({"q": "x" * 201}, "at most 200"),
    ],
)
async def test_bad_filters_are_400_saying_what_is_wrong(
    api: ApiEnv, params: dict[str, str], fragment: str
) -> None:
    status, body = await api.call("GET", "/api/v1/conversations", params=params)
    assert status == 400
    assert fragment in body["error"]["message"]


async def test_a_cursor_from_another_sort_is_refused(api: ApiEnv) -> None:
    for i in range(3):
        api.seed(f"m{i}", handle=f"c{i}")
    _, body = await api.call("GET", "/api/v1/conversations", params={"limit": "1"})
    status, error = await api.call(
        "GET", "/api/v1/conversations", params={"sort": "activity", "cursor": body["next_cursor"]}
    )
    assert status == 400
    assert_error(error, "bad_request")


# One conversation ---------------------------------------------------------------------------
async def test_get_conversation_has_customer_messages_and_events(api: ApiEnv) -> None:
    cid = api.seed("m1", text="first", handle="cust", name="Carol")
    api.seed("m2", text="second", handle="cust")
    other = api.seed("m3", text="elsewhere", handle="cust", keys=("thread-2",))
    status, body = await api.call("GET", CID.format(cid))
    assert status == 200
    assert body["id"] == cid and body["reference"].startswith("R-")
    assert body["contact"]["name"] == "Carol"
    [identity] = body["contact"]["identities"]
    assert (identity["channel"], identity["handle"]) == ("webhook", "cust")
    assert [m["text"] for m in body["messages"] if m["direction"] == "in"] == ["first", "second"]
    assert body["messages"][0]["attachments"] == []
    assert "conversation_created" in {e["type"] for e in body["events"]}
    assert [c["id"] for c in body["other_conversations"]] == [other]


async def test_unknown_conversation_is_404_with_error_body(api: ApiEnv) -> None:
    for path in (CID.format(999), CID.format(2**63 + 5), CID.format(999) + "/notes"):
        status, body = await api.call(
            "GET" if "notes" not in path else "POST", path, json={"text": "x"}
        )
        assert status == 404
        assert_error(body, "not_found")


# Actions ------------------------------------------------------------------------------------
async def test_reply_reaches_the_webhook_callback_and_stops_the_first_response_clock(
    api: ApiEnv,
) -> None:
    cid = api.seed("m1", text="Is my order shipped?", handle="cust-77")
    api.update(cid, first_response_due=datetime.now(UTC) + timedelta(hours=1))
    status, body = await api.call(
        "POST", CID.format(cid) + "/replies", json={"text": "Yes, it left today."}
    )
    assert status == 201, body
    assert body["message"]["kind"] == "message" and body["message"]["author"] == "ann"
    assert body["outbound"]["status"] == "pending"
    api.drain()
    sent = [r.json for r in api.receiver.received if r.json["kind"] == "message"]
    assert [(s["text"], s["recipient_id"], s["conversation_id"]) for s in sent] == [
        ("Yes, it left today.", "cust-77", cid)
    ]
    with api.heard.sessions() as session:
        conversation = session.get(Conversation, cid)
        assert conversation is not None and conversation.first_response_at is not None
        outbound = session.get(Outbound, body["outbound"]["id"])
        assert outbound is not None and outbound.status == "sent"
    _, listed = await api.call("GET", "/api/v1/conversations")
    assert listed["items"][0]["sla_due"] is None  # no resolution SLA: nothing left to race


async def test_note_is_kept_for_agents_and_never_sent(api: ApiEnv) -> None:
    cid = api.seed("m1")
    api.receiver.received.clear()
    status, body = await api.call("POST", CID.format(cid) + "/notes", json={"text": "VIP, be nice"})
    assert status == 201
    assert body["message"]["kind"] == "note"
    api.drain()
    assert api.receiver.received == []
    _, conversation = await api.call("GET", CID.format(cid))
    assert [m["text"] for m in conversation["messages"] if m["kind"] == "note"] == ["VIP, be nice"]
    assert "note_added" in [e["type"] for e in conversation["events"]]


async def test_assign_to_me_a_team_and_back_to_nobody(api: ApiEnv) -> None:
    cid = api.seed("m1")
    path = CID.format(cid) + "/assign"
    status, body = await api.call("POST", path, json={"agent": "me", "team": "billing"})
    assert status == 200
    assert body["conversation"]["assignee"] == "ann" and body["conversation"]["team"] == "billing"
    assert body["changes"]["assignee"] == {"from": None, "to": "ann"}
    _, body = await api.call("POST", path, json={"agent": None})
    assert body["conversation"]["assignee"] is None and body["conversation"]["team"] == "billing"
    status, body = await api.call("POST", path, json={"agent": "nobody"})
    assert status == 400 and "no active agent" in body["error"]["message"]
    status, body = await api.call("POST", path, json={})
    assert status == 400
    with api.heard.sessions() as session:
        types = session.scalars(select(Event.type).where(Event.conversation_id == cid)).all()
    assert types.count("assigned") == 2


async def test_status_changes_including_snooze_until(api: ApiEnv) -> None:
    cid = api.seed("m1")
    path = CID.format(cid) + "/status"
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    status, body = await api.call(
        "POST", path, json={"status": "snoozed", "snoozed_until": until.isoformat()}
    )
    assert status == 200, body
    assert body["conversation"]["status"] == "snoozed"
    assert datetime.fromisoformat(body["conversation"]["snoozed_until"]) == until
    for bad in (
        {"status": "snoozed"},
        {"status": "snoozed", "snoozed_until": "2001-01-01T00:00:00+00:00"},
        {"status": "snoozed", "snoozed_until": "2099-01-01T00:00:00"},
        {"status": "open", "snoozed_until": until.isoformat()},
        {"status": "closed"},
    ):
        status, body = await api.call("POST", path, json=bad)
        assert status == 400, bad
    for state in ("pending", "resolved", "open"):
        status, body = await api.call("POST", path, json={"status": state})
        assert status == 200 and body["conversation"]["status"] == state


async def test_tags_and_priority(api: ApiEnv) -> None:
    cid = api.seed("m1")
    status, body = await api.call(
        "POST", CID.format(cid) + "/tags", json={"add": ["vip", "refund", "vip"]}
    )
    assert status == 200 and body["conversation"]["tags"] == ["refund", "vip"]
    _, body = await api.call("POST", CID.format(cid) + "/tags", json={"remove": ["refund"]})
    assert body["conversation"]["tags"] == ["vip"]
    status, body = await api.call("POST", CID.format(cid) + "/tags", json={"add": ["  "]})
    assert status == 400
    status, body = await api.call("POST", CID.format(cid) + "/priority", json={"priority": "high"})
    assert status == 200 and body["conversation"]["priority"] == "high"
    status, body = await api.call("POST", CID.format(cid) + "/priority", json={"priority": 9})
    assert status == 400
    assert body["error"]["details"][0]["field"] == "priority"


async def test_merge_two_conversations_of_one_customer(api: ApiEnv) -> None:
    first = api.seed("m1", text="one", handle="same", keys=("t1",))
    second = api.seed("m2", text="two", handle="same", keys=("t2",))
    stranger = api.seed("m3", handle="someone-else")
    status, body = await api.call("POST", CID.format(second) + "/merge", json={"into": first})
    assert status == 200, body
    assert body["conversation"]["id"] == first
    _, kept = await api.call("GET", CID.format(first))
    assert [m["text"] for m in kept["messages"] if m["direction"] == "in"] == ["one", "two"]
    assert "merged_from" in [e["type"] for e in kept["events"]]
    _, gone = await api.call("GET", CID.format(second))
    assert gone["merged_into_id"] == first and gone["status"] == "resolved"
    assert second not in await ids(api)
    # The customer writing on the old thread lands in the kept conversation.
    assert api.seed("m4", handle="same", keys=("t2",)) == first
    status, body = await api.call("POST", CID.format(second) + "/notes", json={"text": "x"})
    assert status == 409 and body["error"]["details"] == {"merged_into_id": first}
    status, body = await api.call("POST", CID.format(stranger) + "/merge", json={"into": first})
    assert status == 400 and "same customer" in body["error"]["message"]
    status, body = await api.call("POST", CID.format(first) + "/merge", json={"into": first})
    assert status == 400


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid"),
        (b'{"text": "hi"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"text": ""}', "application/json", 400, "invalid"),
        (b'{"text": "hi", "extra": 1}', "application/json", 400, "invalid"),
        (b"[]", "application/json", 400, "invalid"),
        (b"\xff\xfe", "application/json", 400, "bad_request"),
    ],
)
async def test_bad_bodies_are_4xx_with_details(
    api: ApiEnv, body: bytes, content_type: str, status: int, code: str
) -> None:
    cid = api.seed("m1")
    response = await api.client.post(
        CID.format(cid) + "/notes",
        data=body,
        headers={"Authorization": f"Bearer {api.tokens['ann']}", "Content-Type": content_type},
    )
    assert response.status == status
    assert_error(await response.json(), code)


async def test_unknown_route_and_method_on_api_give_json_errors(api: ApiEnv) -> None:
    status, body = await api.call("GET", "/api/v1/nothing-here")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await api.call("DELETE", "/api/v1/conversations")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


# Agents and roles ---------------------------------------------------------------------------
async def test_agents_see_colleagues_but_only_admins_see_load(api: ApiEnv) -> None:
    cid = api.seed("m1")
    await api.call("POST", CID.format(cid) + "/assign", json={"agent": "bob"})
    status, body = await api.call("GET", "/api/v1/agents")
    assert status == 200
    assert [a["key"] for a in body["items"]] == ["ann", "bob", "boss"]
    assert "open_conversations" not in body["items"][0]
    _, body = await api.call("GET", "/api/v1/agents", who="boss")
    assert {a["key"]: a["open_conversations"] for a in body["items"]} == {
        "ann": 0,
        "bob": 1,
        "boss": 0,
    }
    status, body = await api.call("GET", "/api/v1/load")
    assert status == 403 and body["error"]["code"] == "admin"
    status, body = await api.call("GET", "/api/v1/load", who="boss")
    assert status == 200 and body["by_agent"]["bob"] == 1


async def test_attachment_downloads_as_a_file_never_inline(api: ApiEnv) -> None:
    from inbox.types import AttachmentIn

    payload = b"<script>alert(1)</script>"
    cid = api.seed(
        "m1",
        attachments=(AttachmentIn('x"<evil>.html', "text/html", len(payload), payload),),
    )
    _, conversation = await api.call("GET", CID.format(cid))
    [attachment] = conversation["messages"][0]["attachments"]
    assert attachment["filename"] == 'x"<evil>.html' and attachment["size"] == len(payload)
    response = await api.client.get(
        f"/api/v1/attachments/{attachment['id']}",
        headers={"Authorization": f"Bearer {api.tokens['bob']}"},
    )
    assert response.status == 200
    assert await response.read() == payload
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="x__evil_.html"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_openapi_document_lists_every_api_route(api: ApiEnv) -> None:
    status, doc = await api.call("GET", "/api/v1/openapi.json", who=None)
    assert status == 200 and doc["openapi"].startswith("3.1")
    documented = {
        (method.upper(), "/api/v1" + path.replace("{id}", "1"))
        for path, item in doc["paths"].items()
        for method in item
    }
    assert documented == set(ROUTES)
    assert json.dumps(doc)  # serializable as served


async def test_nul_characters_are_refused_not_a_server_error(api: ApiEnv) -> None:
    """PostgreSQL cannot store NUL; the API must say so instead of failing inside."""
    cid = api.seed("m1")
    for params in ({"q": "a\x00b"}, {"team": "\x00"}, {"tag": "x\x00"}, {"assignee": "\x00"}):
        status, body = await api.call("GET", "/api/v1/conversations", params=params)
        assert status == 400 and "NUL" in body["error"]["message"], params
    for path, payload, field in (
        ("/notes", {"text": "a\x00b"}, "text"),
        ("/tags", {"add": ["ok", "a\x00"]}, "add.1"),
        ("/assign", {"team": "t\x00"}, "team"),
        ("/replies", {"text": "x\x00"}, "text"),
    ):
        status, body = await api.call("POST", CID.format(cid) + path, json=payload)
        assert status == 400
        assert body["error"]["details"] == [{"field": field, "problem": "contains a NUL character"}]


async def test_only_admins_see_the_rules_with_their_file_and_line(
    make_heard: MakeHeard, tmp_path: Path, cheap_kdf: None
) -> None:
    (tmp_path / "rules.toml").write_text(
        '[sla.email]\nfirst_response = "4h"\n\n'
        '[[rules]]\nname = "Refunds"\nwhen.text_any = ["refund"]\nthen.priority = "high"\n',
        encoding="utf-8",
    )
    heard = make_heard('[rules]\nfiles = ["rules.toml"]\n', queue=False)
    with heard.sessions() as session, session.begin():
        accounts.add_agent(session, "ann")
        accounts.add_agent(session, "boss", role="admin")
        tokens = {k: accounts.create_token(session, k) for k in ("ann", "boss")}
    async with TestClient(TestServer(make_app(heard))) as client:
        denied = await client.get(
            "/api/v1/rules", headers={"Authorization": f"Bearer {tokens['ann']}"}
        )
        assert denied.status == 403
        response = await client.get(
            "/api/v1/rules", headers={"Authorization": f"Bearer {tokens['boss']}"}
        )
        assert response.status == 200
        body = await response.json()
    [rule] = body["rules"]
    assert rule["name"] == "Refunds" and rule["then"]["priority"] == "high"
    assert rule["origin"].endswith("rules.toml:4")
    assert body["slas"]["email"]


async def test_search_by_reference_finds_exactly_that_conversation(api: ApiEnv) -> None:
    first = api.seed("a", handle="c-a")
    api.seed("b", handle="c-b")
    _, body = await api.call("GET", CID.format(first))
    reference = body["reference"]
    assert await ids(api, q=reference) == [first]
    assert await ids(api, q=reference.lower()) == [first]
    assert await ids(api, q="R-999999") == []

"""Normalization against the recorded X traffic (tweepy's cassettes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.x import normalize
from connectors.x.ratelimit import route_of
from tests.fakes.x_api import LIMITS

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> list[dict[str, Any]]:
    exchanges: list[dict[str, Any]] = json.loads((RECORDED / name).read_text(encoding="utf-8"))
    return exchanges


def test_recorded_mentions_without_author_are_flagged_not_dropped() -> None:
    (exchange,) = recorded("test_client_get_users_mentions.json")
    messages = normalize.mentions(exchange["response"], "x", "783214")
    assert len(messages) == 10
    # The recording asked for no expansions: no author, so nobody to acknowledge.
    assert all(m.flags == ("malformed",) and not m.wants_auto_reply for m in messages)
    assert messages[-1].external_id == "tweet:1578516295611748353"
    assert "respond to my ticket" in messages[-1].text


def test_recorded_dm_events_keep_ids_and_text() -> None:
    exchanges = recorded("test_manage_and_lookup_direct_messages.json")
    page = next(e for e in exchanges if e["uri"].endswith("/dm_events") and "data" in e["response"])
    events = normalize.items(page["response"])
    messages = normalize.dm_events(events, {}, "x", "1072250532645998596")
    # No sender_id requested in the recording: flagged, text kept for agents.
    assert [m.external_id for m in messages] == ["dm:1585800613253812228", "dm:1585800613752881156"]
    assert "Testing 1" in messages[0].text


def test_fake_windows_match_the_recorded_limits() -> None:
    seen = {}
    for name in RECORDED.glob("*.json"):
        for exchange in recorded(name.name):
            path = exchange["uri"].removeprefix("https://api.twitter.com")
            seen[route_of(exchange["method"], path)] = int(
                exchange["rate_headers"]["x-rate-limit-limit"][0]
            )
    for route in (
        "GET /2/users/:id/mentions",
        "GET /2/dm_events",
        "GET /2/users/me",
        "POST /2/dm_conversations/with/:id/messages",
        "POST /2/tweets",
    ):
        assert LIMITS[route] == seen[route], route


def test_garbage_in_the_data_list_is_flagged_per_item() -> None:
    payload = {"data": [{"id": "12", "author_id": "9", "text": "fine"}, "junk", {"id": []}]}
    messages = normalize.mentions(payload, "x", "1")
    assert sorted(tuple(m.flags) for m in messages) == [(), ("malformed",), ("malformed",)]

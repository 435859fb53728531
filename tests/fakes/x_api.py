"""A local X API v2: mentions, DM events, DM and tweet posting, with rate-limit headers.

Answers in the shapes of the recorded traffic in `tests/connectors/x/recorded/` (tweepy's
cassettes): `{"data": ..., "includes": {"users": [...]}, "meta": {"newest_id", "oldest_id",
"result_count", "next_token"}}`, errors as RFC 7807 problems (`title`, `detail`, `type`,
`status`), and on every answer `x-rate-limit-limit`, `x-rate-limit-remaining` and
`x-rate-limit-reset` (epoch seconds) per endpoint; a used-up window answers 429. Auth is a
bearer token or an OAuth 1.0a header naming our consumer key and access token. Lists are newest
first; DM pages use offsets, so a DM arriving between two page reads shifts events across pages
exactly as the issue warns.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.threaded import ThreadedServer

# Window sizes per 15 minutes as the recorded traffic shows them (x-rate-limit-limit).
LIMITS = {
    "GET /2/users/me": 75,
    "GET /2/users/by/username/:id": 900,
    "GET /2/users/:id/mentions": 450,
    "GET /2/dm_events": 300,
    "POST /2/dm_conversations/with/:id/messages": 200,
    "POST /2/tweets": 200,
}
WINDOW = 15 * 60
DM_ROUTES = ("GET /2/dm_events", "POST /2/dm_conversations/with/:id/messages")
FIRST_ID = 1_585_800_613_253_812_228


@dataclass
class Window:
    limit: int
    remaining: int
    reset: int


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class FakeX(ThreadedServer):
    def __init__(
        self,
        *,
        user_id: str = "1072250532645998596",
        username: str = "HeardSupport",
        bearer_token: str = "test-bearer",
        consumer_key: str = "test-consumer-key",
        access_token: str = "1072250532645998596-test-access",
    ) -> None:
        app = web.Application()
        app.router.add_route("*", "/2/{path:.*}", self._dispatch)
        super().__init__(app)
        self.me = {"id": user_id, "name": "Heard Support", "username": username}
        self.bearer_token = bearer_token
        self.consumer_key = consumer_key
        self.access_token = access_token
        self.users: dict[str, dict[str, Any]] = {user_id: self.me}
        self.mentions: list[dict[str, Any]] = []  # newest first
        self.dm_events: list[dict[str, Any]] = []  # newest first
        self.tweets: list[dict[str, Any]] = []  # what we posted
        self.dms_sent: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.windows: dict[str, Window] = {}
        self.failures: dict[str, deque[Failure]] = {}
        self.after_request: dict[str, Callable[[], object]] = {}
        self.blocked_dm: set[str] = set()
        self.revoked = False
        self._ids = itertools.count(FIRST_ID, 1_000_000)

    # Test-side controls ---------------------------------------------------------------------
    def next_id(self) -> str:
        with self.lock:
            return str(next(self._ids))

    def add_user(self, user_id: str, username: str, name: str = "") -> dict[str, Any]:
        user = {"id": user_id, "username": username, "name": name or username}
        with self.lock:
            self.users[user_id] = user
        return user

    def add_mention(
        self, author_id: str, text: str, *, in_reply_to: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        tweet_id = self.next_id()
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "conversation_id": in_reply_to["conversation_id"] if in_reply_to else tweet_id,
            "created_at": _now_iso(),
        }
        if in_reply_to:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to["id"]}]
            tweet["in_reply_to_user_id"] = in_reply_to["author_id"]
        with self.lock:
            self.mentions.insert(0, tweet)
        return tweet

    def add_dm(self, sender_id: str, text: str) -> dict[str, Any]:
        event = {
            "id": self.next_id(),
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "dm_conversation_id": _dm_conversation(sender_id, self.me["id"]),
            "created_at": _now_iso(),
        }
        with self.lock:
            self.dm_events.insert(0, event)
        return event

    def set_window(self, route: str, remaining: int, reset_in: float) -> None:
        with self.lock:
            self.windows[route] = Window(LIMITS[route], remaining, int(time.time() + reset_in))

    def fail_next(
        self, route: str, status: int, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        body = {
            "title": _TITLES.get(status, "Error"),
            "detail": detail or _TITLES.get(status, ""),
            "type": "about:blank",
            "status": status,
        }
        with self.lock:
            self.failures.setdefault(route, deque()).append(Failure(status, body, headers or {}))

    def drop_next(self, route: str) -> None:
        with self.lock:
            self.failures.setdefault(route, deque()).append(Failure(0, {}, drop=True))

    def calls(self, route: str) -> list[dict[str, str]]:
        with self.lock:
            return [q for r, _, q in self.requests if r == route]

    # Wire -----------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/2/" + request.match_info["path"]
        route = f"{request.method} /2" + re.sub(r"/[0-9][0-9-]*(?=/|$)", "/:id", path[2:])
        if route == "GET /2/users/by/username/:id" or path.startswith("/2/users/by/username/"):
            route = "GET /2/users/by/username/:id"
        body = await request.json() if request.can_read_body else None
        with self.lock:
            self.requests.append((route, request.method, dict(request.query)))
            auth = self._auth(request.headers.get("Authorization", ""), route)
            if auth is not None:
                return auth
            window = self._window(route)
            if window.remaining <= 0 and window.reset > time.time():
                return self._answer(route, 429, _problem(429, "Too Many Requests"), window)
            window.remaining -= 1
            queued = self.failures.get(route)
            failure = queued.popleft() if queued else None
        if failure and failure.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if failure:
            response = self._answer(route, failure.status, failure.body, window)
            response.headers.update(failure.headers)
            return response
        with self.lock:
            status, payload = self._handle(route, path, dict(request.query), body)
            hook = self.after_request.pop(route, None)
        if hook is not None:
            hook()
        return self._answer(route, status, payload, window)

    def _auth(self, header: str, route: str) -> web.Response | None:
        if self.revoked:
            return web.json_response(_problem(401, "Unauthorized"), status=401)
        if header == f"Bearer {self.bearer_token}":
            if route in DM_ROUTES or route.startswith("POST"):
                detail = (
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  Supported authentication types are [OAuth 1.0a User Context,"
                    " OAuth 2.0 User Context]."
                )
                body = _problem(403, detail) | {"title": "Unsupported Authentication"}
                return web.json_response(body, status=403)
            return None
        if (
            header.startswith("OAuth ")
            and f'oauth_consumer_key="{self.consumer_key}"' in header
            and f'oauth_token="{self.access_token}"' in header
        ):
            return None
        return web.json_response(_problem(401, "Unauthorized"), status=401)

    def _window(self, route: str) -> Window:
        window = self.windows.get(route)
        if window is None or window.reset <= time.time():
            limit = LIMITS.get(route, 900)
            window = self.windows[route] = Window(limit, limit, int(time.time() + WINDOW))
        return window

    def _answer(self, route: str, status: int, payload: Any, window: Window) -> web.Response:
        response = web.json_response(payload, status=status)
        response.headers["x-rate-limit-limit"] = str(window.limit)
        response.headers["x-rate-limit-remaining"] = str(max(0, window.remaining))
        response.headers["x-rate-limit-reset"] = str(window.reset)
        return response

    def _handle(self, route: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if route == "GET /2/users/me":
            return 200, {"data": self.me}
        if route == "GET /2/users/by/username/:id":
            name = path.rsplit("/", 1)[-1].lower()
            found = [u for u in self.users.values() if u["username"].lower() == name]
            return (200, {"data": found[0]}) if found else (200, _not_found(name))
        if route == "GET /2/users/:id/mentions":
            return self._mentions(path.split("/")[3], query)
        if route == "GET /2/dm_events":
            return self._dm_page(query)
        if route == "POST /2/dm_conversations/with/:id/messages":
            return self._send_dm(path.split("/")[4], body or {})
        if route == "POST /2/tweets":
            return self._tweet(body or {})
        return 404, _problem(404, "Not Found")

    def _mentions(self, user_id: str, query: dict[str, str]) -> tuple[int, Any]:
        if user_id != self.me["id"]:
            return 200, {"meta": {"result_count": 0}}
        size = int(query.get("max_results", 10))
        if not 5 <= size <= 100:
            return 400, _problem(400, "max_results must be between 5 and 100")
        since = int(query.get("since_id", 0))
        tweets = [t for t in self.mentions if int(t["id"]) > since]
        if "pagination_token" in query:
            until = int(query["pagination_token"].removeprefix("until:"))
            tweets = [t for t in tweets if int(t["id"]) < until]
        page = tweets[:size]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        fields = set(query.get("tweet.fields", "").split(","))
        data = [_only(t, fields | {"id", "text", "edit_history_tweet_ids"}) for t in page]
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
        }
        if len(tweets) > size:
            meta["next_token"] = f"until:{page[-1]['id']}"
        payload: dict[str, Any] = {"data": data, "meta": meta}
        if "author_id" in query.get("expansions", ""):
            authors = {t["author_id"] for t in page}
            payload["includes"] = {"users": [self.users[a] for a in authors if a in self.users]}
        return 200, payload

    def _dm_page(self, query: dict[str, str]) -> tuple[int, Any]:
        size = int(query.get("max_results", 100))
        start = int(query.get("pagination_token", "offset:0").removeprefix("offset:"))
        events = self.dm_events
        if query.get("event_types"):
            events = [e for e in events if e["event_type"] in query["event_types"].split(",")]
        page = events[start : start + size]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        fields = set(query.get("dm_event.fields", "").split(","))
        data = [_only(e, fields | {"id", "event_type", "text"}) for e in page]
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(events):
            meta["next_token"] = f"offset:{start + size}"
        if start:
            meta["previous_token"] = f"offset:{max(0, start - size)}"
        payload: dict[str, Any] = {"data": data, "meta": meta}
        if "sender_id" in query.get("expansions", ""):
            senders = {e["sender_id"] for e in page}
            payload["includes"] = {"users": [self.users[s] for s in senders if s in self.users]}
        return 200, payload

    def _send_dm(self, participant: str, body: dict[str, Any]) -> tuple[int, Any]:
        if participant in self.blocked_dm:
            return 403, _problem(403, "You cannot send messages to this user.")
        text = str(body.get("text", ""))
        if not text or len(text) > 10_000:
            return 400, _problem(400, "text must be 1 to 10000 characters")
        event_id = self.next_id()
        conversation = _dm_conversation(participant, self.me["id"])
        self.dms_sent.append({"participant_id": participant, "text": text, "id": event_id})
        self.dm_events.insert(
            0,
            {
                "id": event_id,
                "event_type": "MessageCreate",
                "text": text,
                "sender_id": self.me["id"],
                "dm_conversation_id": conversation,
                "created_at": _now_iso(),
            },
        )
        return 201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}}

    def _tweet(self, body: dict[str, Any]) -> tuple[int, Any]:
        text = str(body.get("text", ""))
        if len(text) > 280:
            return 400, _problem(400, "Your Tweet text is too long.")
        tweet_id = self.next_id()
        self.tweets.append({"id": tweet_id, **body})
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}


_TITLES = {
    400: "Invalid Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _problem(status: int, detail: str) -> dict[str, Any]:
    return {
        "title": _TITLES.get(status, "Error"),
        "detail": detail,
        "type": "about:blank",
        "status": status,
    }


def _not_found(name: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "value": name,
                "detail": f"Could not find user with username: [{name}].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": name,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }


def _only(item: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in fields}


def _dm_conversation(a: str, b: str) -> str:
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

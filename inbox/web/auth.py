"""Who is asking: agents' sessions (cookies), bearer API tokens, CSRF and the login pages.

A middleware puts the current agent on every request; handlers guard themselves with
`require_agent` / `require_admin`. Two ways in:

* a browser session: a signed cookie (HMAC-SHA256 with `[web] secret_key`, or a key generated
  once into the data directory) holding the agent id, a fingerprint of the password hash (so
  changing a password ends old sessions), an expiry and the session's CSRF token. The cookie is
  HttpOnly, SameSite=Lax and Secure when `public_url` is https.
* a bearer token (`Authorization: Bearer hrd_…`, made by `heard tokens create`) for scripts.

CSRF: any state-changing request authenticated by the cookie must carry the session's token in
the `X-CSRF-Token` header or a `csrf_token` form field (pages get it from `csrf_token(request)`).
If it does not, the request is treated as anonymous and guarded handlers answer 403. Bearer
requests need no token: a browser never attaches one on its own. The login form itself is
protected by a token in a short-lived signed pre-session cookie.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import json
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.orm import Session

from inbox import accounts
from inbox.app import Heard
from inbox.models import Agent
from inbox.web import errors
from inbox.web.app import HEARD_KEY
from inbox.web.db import in_transaction

log = logging.getLogger(__name__)

SESSION_COOKIE = "heard_session"
PRE_SESSION_COOKIE = "heard_presession"
SESSION_TTL = 12 * 3600
PRE_SESSION_TTL = 2 * 3600
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_FILE = "secret_key"


@dataclass(frozen=True, slots=True)
class CurrentAgent:
    """The agent a request acts as; a plain value so it outlives the store session."""

    id: int
    key: str
    name: str
    role: str
    via: str  # "session" | "token"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, agent: Agent, via: str) -> CurrentAgent:
        return cls(agent.id, agent.key, agent.name or agent.key, agent.role, via)


@dataclass(slots=True)
class _AuthState:
    agent: CurrentAgent | None = None
    csrf: str = ""
    new_pre_session: bool = False
    denied: str | None = None  # why credentials that were presented were refused


AUTH_STATE = web.RequestKey("heard_auth", _AuthState)


# Signing -------------------------------------------------------------------------------------
class Signer:
    """HMAC-signed JSON values for cookies; `purpose` keeps one kind from passing as another."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps({**payload, "_p": purpose}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def unsign(self, purpose: str, value: str) -> dict[str, Any] | None:
        body, _, mac = value.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("_p") != purpose:
            return None
        if not isinstance(payload.get("e"), int | float) or payload["e"] < time.time():
            return None
        return payload

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret_key(heard: Heard) -> bytes:
    """`[web] secret_key`, else a key generated once and kept in the data directory."""
    configured = heard.settings.web.secret_key
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    path = data_dir(heard) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode())
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    return bytes.fromhex(path.read_text().strip())


def data_dir(heard: Heard) -> Path:
    """Where generated state lives: beside the attachments directory."""
    return heard.attachments_dir.parent


SIGNER_KEY = web.AppKey("heard_signer", Signer)


# Failed-login rate limit ---------------------------------------------------------------------
class LoginLimiter:
    """Counts failed logins per name and per client address in a sliding window.

    Kept in memory: a web process sees its own clients, and a restart forgetting failures is an
    acceptable price for not writing on every failed attempt.
    """

    def __init__(
        self,
        per_login: int = 5,
        per_address: int = 20,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limits = {"login": per_login, "address": per_address}
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, login: str, address: str) -> float:
        """Seconds to wait before another try is allowed; 0 when one is allowed now."""
        wait = 0.0
        for kind, value in (("login", login.lower()), ("address", address)):
            times = self._recent((kind, value))
            if len(times) >= self.limits[kind]:
                wait = max(wait, times[0] + self.window - self.clock())
        return wait

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._forget_old()
        for key in (("login", login.lower()), ("address", address)):
            self._failures.setdefault(key, deque()).append(now)

    def _forget_old(self) -> None:
        """Drop expired entries, so guessing random names cannot grow memory without bound."""
        for key in list(self._failures):
            if not self._recent(key):
                del self._failures[key]

    def succeeded(self, login: str) -> None:
        self._failures.pop(("login", login.lower()), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] + self.window <= self.clock():
            times.popleft()
        return times


LIMITER_KEY = web.AppKey("heard_login_limiter", LoginLimiter)


# The middleware ------------------------------------------------------------------------------
@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = _AuthState()
    request[AUTH_STATE] = state
    await _authenticate(request, state)
    response = await handler(request)
    if state.new_pre_session and state.agent is None and not response.prepared:
        signer = request.app[SIGNER_KEY]
        value = signer.sign("pre", {"c": state.csrf, "e": int(time.time()) + PRE_SESSION_TTL})
        _set_cookie(request, response, PRE_SESSION_COOKIE, value, PRE_SESSION_TTL)
    return response


async def _authenticate(request: web.Request, state: _AuthState) -> None:
    heard = request.app[HEARD_KEY]
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            state.denied = "the Authorization header must be 'Bearer <token>'"
            return
        agent = await in_transaction(heard, lambda s: _token_agent(s, token.strip()))
        if agent is None:
            state.denied = "the API token is unknown or revoked"
        state.agent = agent
        return
    signer = request.app[SIGNER_KEY]
    cookie = request.cookies.get(SESSION_COOKIE)
    payload = signer.unsign("session", cookie) if cookie else None
    if payload is not None:
        agent = await in_transaction(heard, lambda s: _session_agent(s, payload))
        if agent is not None:
            state.csrf = str(payload.get("c", ""))
            if request.method in SAFE_METHODS or await _csrf_ok(request, state.csrf):
                state.agent = agent
            else:
                state.denied = "csrf"
            return
    pre = request.cookies.get(PRE_SESSION_COOKIE)
    pre_payload = signer.unsign("pre", pre) if pre else None
    if pre_payload is not None:
        state.csrf = str(pre_payload.get("c", ""))


def _token_agent(session: Session, token: str) -> CurrentAgent | None:
    agent = accounts.agent_for_token(session, token)
    return CurrentAgent.of(agent, "token") if agent else None


def _session_agent(session: Session, payload: dict[str, Any]) -> CurrentAgent | None:
    agent_id = payload.get("a")
    agent = session.get(Agent, agent_id) if isinstance(agent_id, int) else None
    if agent is None or not agent.active:
        return None
    if payload.get("p") != accounts.password_fingerprint(agent):
        return None
    return CurrentAgent.of(agent, "session")


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


# What handlers use ---------------------------------------------------------------------------
def current_agent(request: web.Request) -> CurrentAgent | None:
    state: _AuthState | None = request.get(AUTH_STATE)
    return state.agent if state is not None else None


def csrf_token(request: web.Request) -> str:
    """The token a page must send back with any POST; made (pre-session) on first use."""
    state: _AuthState | None = request.get(AUTH_STATE)
    if state is None:
        raise RuntimeError("auth middleware is not installed")
    if not state.csrf:
        state.csrf = secrets.token_urlsafe(24)
        state.new_pre_session = True
    return state.csrf


AgentHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def require_agent(handler: AgentHandler) -> AgentHandler:
    """Lets the handler run only for a signed-in agent (or a valid token)."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if current_agent(request) is None:
            return _deny(request)
        return await handler(request)

    return guarded


def require_admin(handler: AgentHandler) -> AgentHandler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        agent = current_agent(request)
        if agent is None:
            return _deny(request)
        if not agent.is_admin:
            return _forbidden(request, "admin", "this needs an admin account")
        return await handler(request)

    return guarded


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.startswith(errors.API_PREFIX)
        or "Authorization" in request.headers
        or ("application/json" in accept and "text/html" not in accept)
    )


def _deny(request: web.Request) -> web.StreamResponse:
    state = request[AUTH_STATE]
    if state.denied == "csrf":
        return _forbidden(
            request, "csrf", f"missing or wrong CSRF token (send the {CSRF_HEADER} header)"
        )
    if _wants_json(request):
        message = state.denied or "sign in or send 'Authorization: Bearer <token>'"
        return errors.json_error(
            401, "unauthenticated", message, headers={"WWW-Authenticate": 'Bearer realm="heard"'}
        )
    if request.method in SAFE_METHODS:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
    return web.Response(status=401, text="Please sign in again.")


def _forbidden(request: web.Request, code: str, message: str) -> web.StreamResponse:
    if _wants_json(request):
        return errors.json_error(403, code, message)
    return web.Response(status=403, text=message)


# Login and logout ----------------------------------------------------------------------------
LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Heard</title>
<style>
body{{font:16px system-ui,sans-serif;background:#f4f5f7;display:flex;min-height:100vh;
margin:0;align-items:center;justify-content:center}}
form{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:18rem}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;box-sizing:border-box;padding:.5rem}}
button{{margin-top:1.2rem;width:100%;padding:.6rem;background:#2563eb;color:#fff;border:0;
border-radius:4px;font-size:1rem}}.error{{color:#b91c1c}}
</style></head><body>
<form method="post" action="/login">
<h1>Heard</h1>{error}
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label for="username">Name or email</label>
<input id="username" name="username" autocomplete="username" required value="{username}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>
"""


def _safe_next(value: object) -> str:
    """Only local paths, so the login form cannot be used to bounce people to other sites."""
    text = value if isinstance(value, str) else ""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def _login_page(
    request: web.Request,
    *,
    error: str = "",
    username: str = "",
    next_path: str = "",
    status: int = 200,
) -> web.Response:
    page = LOGIN_PAGE.format(
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        csrf=html.escape(csrf_token(request)),
        next=html.escape(_safe_next(next_path or request.query.get("next"))),
        username=html.escape(username),
    )
    return web.Response(text=page, content_type="text/html", status=status)


async def login_form(request: web.Request) -> web.StreamResponse:
    if current_agent(request) is not None:
        return _redirect(_safe_next(request.query.get("next")))
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: a form (browser) or JSON `{"username", "password"}` (scripts, tests)."""
    as_json = request.content_type == "application/json"
    fields = await _login_fields(request, as_json)
    if fields is None:
        return _login_failure(request, as_json, 400, "bad_request", "send username and password")
    username, password, next_path, given_csrf = fields
    state = request[AUTH_STATE]
    # A JSON body cannot be sent cross-site without a CORS preflight we never grant, so only
    # the form needs the token.
    if not as_json and not (
        state.csrf and hmac.compare_digest(given_csrf.encode(), state.csrf.encode())
    ):
        return _login_failure(
            request,
            False,
            403,
            "csrf",
            "the sign-in form expired; please try again",
            username,
            next_path=next_path,
        )
    limiter = request.app[LIMITER_KEY]
    address = client_address(request)
    wait = limiter.retry_after(username, address)
    if wait > 0:
        return _login_failure(
            request,
            as_json,
            429,
            "rate_limited",
            "too many failed sign-ins; try again later",
            username,
            headers={"Retry-After": str(int(wait) + 1)},
            next_path=next_path,
        )
    heard = request.app[HEARD_KEY]
    agent = await in_transaction(heard, lambda s: _check_login(s, username, password))
    if agent is None:
        limiter.failed(username, address)
        log.info("failed sign-in from %s", address)
        return _login_failure(
            request,
            as_json,
            401,
            "unauthenticated",
            "wrong name or password",
            username,
            next_path=next_path,
        )
    limiter.succeeded(username)
    agent_value, fingerprint = agent
    session_csrf = secrets.token_urlsafe(24)
    cookie = request.app[SIGNER_KEY].sign(
        "session",
        {
            "a": agent_value.id,
            "p": fingerprint,
            "c": session_csrf,
            "e": int(time.time()) + SESSION_TTL,
        },
    )
    response: web.StreamResponse
    if as_json:
        response = web.json_response(
            {
                "agent": {
                    "key": agent_value.key,
                    "name": agent_value.name,
                    "role": agent_value.role,
                },
                "csrf_token": session_csrf,
            }
        )
    else:
        response = _redirect(_safe_next(next_path))
    _set_cookie(request, response, SESSION_COOKIE, cookie, SESSION_TTL)
    response.del_cookie(PRE_SESSION_COOKIE, path="/")
    state.new_pre_session = False
    return response


def client_address(request: web.Request) -> str:
    """The client's address; behind a reverse proxy on this host, the one the proxy saw.

    Only a loopback peer is trusted to say who it forwards for (its rightmost X-Forwarded-For
    entry is the one it added itself), so a remote client cannot pick its own address, and all
    users behind a local proxy do not share one failed-login budget.
    """
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and peer in ("127.0.0.1", "::1"):
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return peer


async def _login_fields(request: web.Request, as_json: bool) -> tuple[str, str, str, str] | None:
    if as_json:
        try:
            data: Any = await request.json()
        except ValueError:
            return None
        csrf = request.headers.get(CSRF_HEADER, "")
    else:
        data = dict(await request.post())
        csrf = data.get(CSRF_FIELD, "")
    if not isinstance(data, dict):
        return None
    data = {k: v for k, v in data.items() if isinstance(k, str)}
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return None
    next_path = data.get("next", "/")
    csrf = data.get(CSRF_FIELD, csrf) if as_json and not csrf else csrf
    return username[:320], password[:1000], str(next_path), str(csrf)


def _check_login(session: Session, username: str, password: str) -> tuple[CurrentAgent, str] | None:
    agent = accounts.authenticate(session, username, password)
    if agent is None:
        return None
    return CurrentAgent.of(agent, "session"), accounts.password_fingerprint(agent)


def _login_failure(
    request: web.Request,
    as_json: bool,
    status: int,
    code: str,
    message: str,
    username: str = "",
    *,
    headers: dict[str, str] | None = None,
    next_path: str = "",
) -> web.StreamResponse:
    if as_json:
        return errors.json_error(status, code, message, headers=headers)
    response = _login_page(
        request, error=message, username=username, next_path=next_path, status=status
    )
    response.headers.update(headers or {})
    return response


@require_agent
async def logout(request: web.Request) -> web.StreamResponse:
    response: web.StreamResponse
    if _wants_json(request):
        response = web.json_response({"signed_out": True})
    else:
        response = _redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    public_url = request.app[HEARD_KEY].settings.web.public_url or ""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=public_url.startswith("https://"),
    )


def setup(app: web.Application) -> None:
    heard = app[HEARD_KEY]
    app[SIGNER_KEY] = Signer(secret_key(heard))
    app[LIMITER_KEY] = LoginLimiter()
    errors.setup(app)
    app.middlewares.append(auth_middleware)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)

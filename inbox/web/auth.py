"""Who is asking: agents' sessions (cookies), bearer API tokens, CSRF, roles.

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
protected by a token in a short-lived signed pre-session cookie (see `inbox.web.login`).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.orm import Session

from inbox import accounts
from inbox.models import Agent
from inbox.web import errors
from inbox.web.app import HEARD_KEY
from inbox.web.db import in_transaction
from inbox.web.login_limit import LIMITER_KEY as LIMITER_KEY
from inbox.web.login_limit import LoginLimiter as LoginLimiter
from inbox.web.signing import Signer as Signer
from inbox.web.signing import data_dir as data_dir
from inbox.web.signing import secret_key as secret_key

log = logging.getLogger(__name__)

SESSION_COOKIE = "heard_session"
PRE_SESSION_COOKIE = "heard_presession"
SESSION_TTL = 12 * 3600
PRE_SESSION_TTL = 2 * 3600
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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

SIGNER_KEY = web.AppKey("heard_signer", Signer)


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
        set_cookie(request, response, PRE_SESSION_COOKIE, value, PRE_SESSION_TTL)
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


def wants_json(request: web.Request) -> bool:
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
    if wants_json(request):
        message = state.denied or "sign in or send 'Authorization: Bearer <token>'"
        return errors.json_error(
            401, "unauthenticated", message, headers={"WWW-Authenticate": 'Bearer realm="heard"'}
        )
    if request.method in SAFE_METHODS:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
    return web.Response(status=401, text="Please sign in again.")


def _forbidden(request: web.Request, code: str, message: str) -> web.StreamResponse:
    if wants_json(request):
        return errors.json_error(403, code, message)
    return web.Response(status=403, text=message)


def set_cookie(
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
    from inbox.web import login

    heard = app[HEARD_KEY]
    app[SIGNER_KEY] = Signer(secret_key(heard))
    app[LIMITER_KEY] = LoginLimiter()
    errors.setup(app)
    app.middlewares.append(auth_middleware)
    app.router.add_get("/login", login.login_form)
    app.router.add_post("/login", login.login)
    app.router.add_post("/logout", login.logout)

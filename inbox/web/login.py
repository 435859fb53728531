"""GET/POST /login and POST /logout, with a minimal server-rendered sign-in page.

The form is protected by a token in a short-lived signed pre-session cookie; a JSON sign-in
(scripts, tests) needs none, because a browser cannot send a JSON body cross-site without a
CORS preflight that Heard never grants. Failed attempts count against `login_limit`.
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
import time
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from inbox import accounts
from inbox.web import errors
from inbox.web.app import HEARD_KEY
from inbox.web.auth import (
    AUTH_STATE,
    CSRF_FIELD,
    CSRF_HEADER,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL,
    SIGNER_KEY,
    CurrentAgent,
    csrf_token,
    current_agent,
    require_agent,
    set_cookie,
    wants_json,
)
from inbox.web.db import in_transaction
from inbox.web.login_limit import LIMITER_KEY, client_address

log = logging.getLogger(__name__)


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
    set_cookie(request, response, SESSION_COOKIE, cookie, SESSION_TTL)
    response.del_cookie(PRE_SESSION_COOKIE, path="/")
    state.new_pre_session = False
    return response


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
    if wants_json(request):
        response = web.json_response({"signed_out": True})
    else:
        response = _redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})

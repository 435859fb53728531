"""Agents' access: login, session cookies, CSRF, bearer tokens, roles, failed-login limits."""

# Fixtures are imported from tests.web.api_env, so test arguments shadow them by design.
# ruff: noqa: F811

from __future__ import annotations

import re
import stat
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from inbox import accounts
from inbox.app import Heard
from inbox.web.app import make_app
from inbox.web.auth import PRE_SESSION_COOKIE, SESSION_COOKIE, current_agent, require_agent
from inbox.web.bootstrap import ensure_admin
from inbox.web.login_limit import LoginLimiter
from inbox.web.signing import Signer, data_dir, secret_key
from tests.conftest import MakeHeard, RunCli
from tests.web.api_env import PASSWORD, ApiEnv, api, cheap_kdf  # noqa: F401

NOTES = "/api/v1/conversations/{}/notes"


async def login_form(client: TestClient[Any, Any], next_path: str = "/") -> str:
    response = await client.get("/login", params={"next": next_path})
    assert response.status == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert match is not None
    return match.group(1)


async def sign_in(
    client: TestClient[Any, Any],
    username: str = "ann",
    password: str = PASSWORD,
    next_path: str = "/",
) -> Any:
    token = await login_form(client, next_path)
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_path},
        allow_redirects=False,
    )


def set_cookies(response: Any) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def session_csrf(client: TestClient[Any, Any]) -> str:
    response = await client.get("/api/v1/me")
    assert response.status == 200
    body = await response.json()
    assert body["key"] == "ann"
    return str(body["csrf_token"])


async def test_form_login_sets_a_hardened_session_cookie_and_redirects(api: ApiEnv) -> None:
    response = await sign_in(api.client, next_path="/queue?view=mine")
    assert response.status == 303
    assert response.headers["Location"] == "/queue?view=mine"
    cookie = set_cookies(response)[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain-http public_url
    assert cookie["path"] == "/"
    assert await session_csrf(api.client)


async def test_session_cookie_is_secure_when_public_url_is_https(
    make_heard: MakeHeard, cheap_kdf: None
) -> None:
    heard = make_heard('[web]\npublic_url = "https://support.example.com"\n', queue=False)
    with heard.sessions() as session, session.begin():
        accounts.add_agent(session, "ann", password=PASSWORD)
    async with TestClient(TestServer(make_app(heard))) as client:
        form = await client.get("/login")
        pre = set_cookies(form)[PRE_SESSION_COOKIE]
        assert pre["secure"] is True
        match = re.search(r'name="csrf_token" value="([^"]+)"', await form.text())
        assert match is not None
        # The test client speaks plain http, so it would not send a Secure cookie back itself.
        response = await client.post(
            "/login",
            data={"username": "ann", "password": PASSWORD, "csrf_token": match.group(1)},
            headers={"Cookie": f"{PRE_SESSION_COOKIE}={pre.value}"},
            allow_redirects=False,
        )
        assert response.status == 303
        assert set_cookies(response)[SESSION_COOKIE]["secure"] is True


@pytest.mark.parametrize("next_path", ["//evil.example", "https://evil.example/", "/\\evil"])
async def test_login_never_redirects_off_site(api: ApiEnv, next_path: str) -> None:
    response = await sign_in(api.client, next_path=next_path)
    assert response.status == 303
    assert response.headers["Location"] == "/"


async def test_login_form_needs_its_csrf_token(api: ApiEnv) -> None:
    await login_form(api.client)
    for token in ("", "forged"):
        response = await api.client.post(
            "/login",
            data={"username": "ann", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.status == 403
        assert SESSION_COOKIE not in set_cookies(response)


async def test_wrong_password_and_unknown_name_fail_alike(api: ApiEnv) -> None:
    wrong = await sign_in(api.client, password="not the password")
    unknown = await sign_in(api.client, username="mallory")
    assert wrong.status == unknown.status == 401
    assert "wrong name or password" in await wrong.text()
    assert "wrong name or password" in await unknown.text()
    assert SESSION_COOKIE not in set_cookies(wrong)


async def test_failed_logins_are_rate_limited_even_for_the_right_password(api: ApiEnv) -> None:
    for _ in range(5):
        assert (await sign_in(api.client, password="guess-guess")).status == 401
    blocked = await sign_in(api.client)
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert SESSION_COOKIE not in set_cookies(blocked)
    # Another agent is not locked out by ann's attacker.
    assert (await sign_in(api.client, username="bob")).status == 303


async def test_behind_a_local_proxy_each_client_has_its_own_failure_budget(
    api: ApiEnv,
) -> None:
    token = await login_form(api.client)

    async def attempt(client_ip: str, username: str) -> int:
        response = await api.client.post(
            "/login",
            data={"username": username, "password": "wrong-wrong", "csrf_token": token},
            headers={"X-Forwarded-For": f"203.0.113.9, {client_ip}"},
            allow_redirects=False,
        )
        return response.status

    for i in range(20):
        assert await attempt("198.51.100.1", f"nobody-{i}") == 401
    assert await attempt("198.51.100.1", "someone-else") == 429  # that client's budget is spent
    assert await attempt("198.51.100.2", "someone-else") == 401  # another client's is not


def test_login_limiter_forgets_failures_after_the_window() -> None:
    now = [0.0]
    limiter = LoginLimiter(per_login=2, per_address=3, window=60, clock=lambda: now[0])
    limiter.failed("ann", "1.2.3.4")
    limiter.failed("ANN", "1.2.3.4")
    assert limiter.retry_after("ann", "1.2.3.4") == pytest.approx(60)
    assert limiter.retry_after("bob", "5.6.7.8") == 0
    limiter.failed("bob", "1.2.3.4")
    assert limiter.retry_after("carl", "1.2.3.4") > 0  # the address is over its limit too
    now[0] = 61.0
    assert limiter.retry_after("ann", "1.2.3.4") == 0


def test_login_limiter_memory_stays_bounded_under_name_spraying() -> None:
    now = [0.0]
    limiter = LoginLimiter(window=60, clock=lambda: now[0], max_keys=100)
    for i in range(1000):
        now[0] = i  # older failures expire as the spray goes on
        limiter.failed(f"name-{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(limiter._failures) <= 100 + 2 * 60 + 2


async def test_json_login_for_scripts_returns_the_csrf_token(api: ApiEnv) -> None:
    response = await api.client.post(
        "/login", json={"username": "ann@example.com", "password": PASSWORD}
    )
    assert response.status == 200
    body = await response.json()
    assert body["agent"] == {"key": "ann", "name": "Ann", "role": "agent"}
    assert body["csrf_token"] == await session_csrf(api.client)


async def test_cookie_requests_that_change_state_need_the_csrf_token(api: ApiEnv) -> None:
    cid = api.seed("m1")
    await sign_in(api.client)
    csrf = await session_csrf(api.client)
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        response = await api.client.post(NOTES.format(cid), json={"text": "x"}, headers=headers)
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "csrf"
    response = await api.client.post(
        NOTES.format(cid), json={"text": "ok"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 201
    _, conversation = await api.call("GET", f"/api/v1/conversations/{cid}")
    assert [m["text"] for m in conversation["messages"] if m["kind"] == "note"] == ["ok"]


async def test_bearer_requests_need_no_csrf_token(api: ApiEnv) -> None:
    cid = api.seed("m1")
    status, _ = await api.call("POST", NOTES.format(cid), json={"text": "scripted"})
    assert status == 201


async def test_logout_needs_csrf_and_ends_the_session(api: ApiEnv) -> None:
    await sign_in(api.client)
    csrf = await session_csrf(api.client)
    assert (await api.client.post("/logout", allow_redirects=False)).status == 403
    response = await api.client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await api.client.get("/api/v1/me")).status == 401


async def test_changing_the_password_ends_existing_sessions(api: ApiEnv) -> None:
    await sign_in(api.client)
    assert (await api.client.get("/api/v1/me")).status == 200
    with api.heard.sessions() as session, session.begin():
        accounts.set_password(session, "ann", "a brand new password")
    assert (await api.client.get("/api/v1/me")).status == 401


async def test_a_tampered_or_foreign_cookie_is_ignored(api: ApiEnv) -> None:
    response = await sign_in(api.client)
    value = set_cookies(response)[SESSION_COOKIE].value
    body, _, mac = value.partition(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    foreign = Signer(b"another key").sign("session", {"a": 1, "p": "x", "c": "y", "e": 2**40})
    presession = Signer(b"x").sign("pre", {"c": "y", "e": 2**40})
    for bad in (f"{forged_body}.{mac}", foreign, presession, "garbage", value + "x"):
        api.client.session.cookie_jar.clear()
        api.client.session.cookie_jar.update_cookies({SESSION_COOKIE: bad})
        assert (await api.client.get("/api/v1/me")).status == 401, bad


async def test_revoked_token_and_inactive_agent_lose_access(api: ApiEnv) -> None:
    assert (await api.call("GET", "/api/v1/me", who="bob"))[0] == 200
    with api.heard.sessions() as session, session.begin():
        assert accounts.revoke_tokens(session, "bob") == 1
    assert (await api.call("GET", "/api/v1/me", who="bob"))[0] == 401
    with api.heard.sessions() as session, session.begin():
        agent = accounts.find_agent(session, "ann")
        assert agent is not None
        agent.active = False
    assert (await api.call("GET", "/api/v1/me", who="ann"))[0] == 401


async def test_malformed_authorization_header_is_401(api: ApiEnv) -> None:
    for value in ("Basic YW5uOnB3", "Bearer", "Token abc"):
        status, body = await api.call(
            "GET", "/api/v1/me", who=None, headers={"Authorization": value}
        )
        assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_pages_send_the_anonymous_to_the_login_form(make_heard: MakeHeard) -> None:
    heard = make_heard(queue=False)
    app = make_app(heard)

    @require_agent
    async def page(request: web.Request) -> web.Response:
        agent = current_agent(request)
        return web.Response(text=f"hello {agent.key if agent else '?'}")

    app.router.add_get("/test-page", page)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/test-page?x=1", allow_redirects=False)
        assert response.status == 303
        location = URL(response.headers["Location"])
        assert location.path == "/login" and location.query["next"] == "/test-page?x=1"
        response = await client.post("/test-page", allow_redirects=False)
        assert response.status in (401, 405)


def test_generated_secret_key_is_made_once_private_and_reused(
    make_heard: MakeHeard, tmp_path: Path
) -> None:
    heard = make_heard(queue=False)
    first = secret_key(heard)
    path = data_dir(heard) / "secret_key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(heard) == first and len(first) == 32


def test_first_run_creates_an_admin_once(make_heard: MakeHeard, cheap_kdf: None) -> None:
    heard: Heard = make_heard(queue=False)
    password = ensure_admin(heard)
    assert password and len(password) >= 12
    assert ensure_admin(heard) is None
    with heard.sessions() as session, session.begin():
        admin = accounts.authenticate(session, "admin", password)
        assert admin is not None and admin.role == "admin"
        assert accounts.authenticate(session, "admin", "wrong password") is None


async def test_presession_cookie_is_httponly(api: ApiEnv) -> None:
    response = await api.client.get("/login")
    cookie = set_cookies(response)[PRE_SESSION_COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"


# The CLI --------------------------------------------------------------------------------------
def test_cli_agents_tokens_and_contacts(
    make_heard: MakeHeard, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, cheap_kdf: None
) -> None:
    import io

    from tests.inbox.helpers import inbound

    heard = make_heard(queue=False)
    config = str(heard.settings.path)
    monkeypatch.setattr("sys.stdin", io.StringIO("first password\n"))
    code, out, err = run_cli(
        "agents", "add", "ann", "--name", "Ann", "--password-stdin", "--config", config
    )
    assert code == 0, err
    code, out, err = run_cli("agents", "add", "ann", "--no-password", "--config", config)
    assert code == 2 and "already exists" in err
    code, out, _ = run_cli("agents", "list", "--config", config)
    assert re.search(r"^ann\s+agent\s+0\s+20\s+set\s+Ann$", out, re.M), out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run_cli("agents", "passwd", "ann", "--password-stdin", "--config", config)
    assert code == 2 and "at least 8" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("second password\n"))
    code, _, err = run_cli("agents", "passwd", "ann", "--password-stdin", "--config", config)
    assert code == 0, err
    code, out, err = run_cli("tokens", "create", "--agent", "ann", "--config", config)
    assert code == 0, err
    token = out.strip()
    with heard.sessions() as session, session.begin():
        assert accounts.authenticate(session, "ann", "second password") is not None
        agent = accounts.agent_for_token(session, token)
        assert agent is not None and agent.key == "ann"
    code, _, err = run_cli("tokens", "create", "--agent", "nobody", "--config", config)
    assert code == 2 and "no agent" in err

    from inbox.ingest import store_messages

    store_messages(heard, [inbound("a", handle="ann@example.com", channel="email", account="mail")])
    store_messages(heard, [inbound("b", handle="555", channel="telegram", account="tg")])
    code, out, err = run_cli(
        "contacts", "link", "email:ann@example.com", "telegram:555", "--config", config
    )
    assert code == 0, err
    assert "email:ann@example.com, telegram:555" in out
    code, _, err = run_cli("contacts", "link", "email:nobody@x", "telegram:1", "--config", config)
    assert code == 2 and "no customer" in err
    code, _, err = run_cli("contacts", "link", "email:ann@example.com", "bad", "--config", config)
    assert code == 2 and "CHANNEL:HANDLE" in err


def test_config_agents_and_admins_get_passwords_from_the_cli(
    make_heard: MakeHeard, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, cheap_kdf: None
) -> None:
    import io

    heard = make_heard(
        '[agents.lea]\nname = "Lea Admin"\nrole = "admin"\n\n[agents.max]\nname = "Max"\n',
        queue=False,
    )
    config = str(heard.settings.path)
    monkeypatch.setattr("sys.stdin", io.StringIO("lea's password\n"))
    code, _, err = run_cli("agents", "passwd", "lea", "--password-stdin", "--config", config)
    assert code == 0, err
    code, out, _ = run_cli("agents", "list", "--config", config)
    assert re.search(r"^lea\s+admin\s+0\s+20\s+set\s+Lea Admin$", out, re.M), out
    assert re.search(r"^max\s+agent\s+0\s+20\s+none\s+Max$", out, re.M), out
    with heard.sessions() as session, session.begin():
        lea = accounts.authenticate(session, "lea", "lea's password")
        assert lea is not None and lea.role == "admin"

"""Agents' credentials: password hashing (argon2id), logins and bearer API tokens.

Shared by the web layer and the CLI (`heard agents`, `heard tokens`), so neither has to know how
a secret is stored. Passwords go through argon2id, a memory-hard KDF, because a leaked store must
not give away passwords. API tokens are long random strings, so a fast SHA-256 of them is as
safe to store as a slow hash and cheap enough to check on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.errors import BadInput
from inbox.models import Agent, ApiToken, utcnow

ROLES = ("agent", "admin")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "hrd_"
# Writing last_used_at on every request would turn reads into writes; once a minute is plenty.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)

# argon2-cffi's default is RFC 9106's low-memory profile (argon2id, 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified when the login name is unknown, so a wrong name costs as much time as a wrong password.
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the KDF parameters (tests use argon2's cheapest profile to stay fast)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_fingerprint(agent: Agent) -> str:
    """Changes whenever the password does, so old sessions stop working after `passwd`."""
    return hashlib.sha256((agent.password_hash or "").encode()).hexdigest()[:16]


def find_agent(session: Session, login: str) -> Agent | None:
    """An active agent by key or (case-insensitively) by email."""
    login = login.strip()
    agent = session.scalar(select(Agent).where(Agent.key == login))
    if agent is None and "@" in login:
        agent = session.scalar(select(Agent).where(Agent.email.ilike(login)))
    return agent if agent is not None and agent.active else None


def authenticate(session: Session, login: str, password: str) -> Agent | None:
    agent = find_agent(session, login)
    if not verify_password(agent.password_hash if agent else None, password) or agent is None:
        return None
    if _hasher.check_needs_rehash(agent.password_hash or ""):
        agent.password_hash = _hasher.hash(password)
    return agent


def add_agent(
    session: Session,
    key: str,
    *,
    name: str = "",
    email: str | None = None,
    role: str = "agent",
    password: str | None = None,
) -> Agent:
    key = key.strip()
    if not key or len(key) > 100 or any(c.isspace() for c in key):
        raise BadInput("agent key must be 1-100 characters without spaces")
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}")
    if session.scalar(select(Agent.id).where(Agent.key == key)) is not None:
        raise BadInput(f"agent {key!r} already exists")
    agent = Agent(key=key, name=name or key, email=email, role=role)
    if password is not None:
        agent.password_hash = hash_password(password)
    session.add(agent)
    session.flush()
    return agent


def set_password(session: Session, key: str, password: str) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.key == key))
    if agent is None:
        raise BadInput(f"no agent {key!r}")
    agent.password_hash = hash_password(password)
    return agent


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, agent_key: str, label: str = "") -> str:
    """Makes a bearer token for an agent; the plain token is returned once and never stored."""
    agent = session.scalar(select(Agent).where(Agent.key == agent_key))
    if agent is None:
        raise BadInput(f"no agent {agent_key!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(agent_id=agent.id, token_hash=token_hash(token), label=label[:200]))
    session.flush()
    return token


def agent_for_token(session: Session, token: str) -> Agent | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash(token), ApiToken.revoked.is_(False)
        )
    )
    if row is None:
        return None
    agent = session.get(Agent, row.agent_id)
    if agent is None or not agent.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
    return agent


def revoke_tokens(session: Session, agent_key: str) -> int:
    agent = session.scalar(select(Agent).where(Agent.key == agent_key))
    if agent is None:
        raise BadInput(f"no agent {agent_key!r}")
    rows = session.scalars(
        select(ApiToken).where(ApiToken.agent_id == agent.id, ApiToken.revoked.is_(False))
    ).all()
    for row in rows:
        row.revoked = True
    return len(rows)

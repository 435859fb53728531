"""The embedded first run: a workspace with no admin gets one, with a password printed once."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from inbox import accounts
from inbox.app import Heard
from inbox.models import Agent

ADMIN_KEY = "admin"


def ensure_admin(heard: Heard) -> str | None:
    """Creates (or re-arms) the `admin` account when no active admin can sign in.

    Returns the new password for the caller to print once, or None when an admin already
    exists. The password is never stored in clear or logged.
    """
    with heard.sessions() as session, session.begin():
        admins = session.scalars(
            select(Agent).where(Agent.role == "admin", Agent.active.is_(True))
        ).all()
        if any(admin.password_hash for admin in admins):
            return None
        password = secrets.token_urlsafe(12)
        existing = session.scalar(select(Agent).where(Agent.key == ADMIN_KEY))
        if existing is None:
            accounts.add_agent(
                session, ADMIN_KEY, name="Administrator", role="admin", password=password
            )
        else:
            existing.role, existing.active = "admin", True
            existing.password_hash = accounts.hash_password(password)
        return password

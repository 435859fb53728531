"""Visitor tokens: a random visitor id signed with the channel's key.

The widget keeps the token in the visitor's browser storage and presents it on every
connection, so a reload or a reconnect continues the same conversation, and nobody can read
another visitor's history by guessing an id: the HMAC binds id and channel.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "v1"


def _signature(key: bytes, account: str, visitor: str) -> str:
    mac = hmac.new(key, f"webchat:{account}:{visitor}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def new_visitor() -> str:
    return secrets.token_urlsafe(16)


def issue(key: bytes, account: str, visitor: str) -> str:
    return f"{PREFIX}.{visitor}.{_signature(key, account, visitor)}"


def verify(key: bytes, account: str, token: str) -> str | None:
    """The visitor id a token names, or None when it is not one we signed for this channel."""
    prefix, _, rest = token.partition(".")
    visitor, _, signature = rest.rpartition(".")
    if prefix != PREFIX or not visitor or len(visitor) > 64:
        return None
    if not hmac.compare_digest(signature, _signature(key, account, visitor)):
        return None
    return visitor

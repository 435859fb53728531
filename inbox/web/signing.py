"""Signed cookie values and the key they are signed with.

HMAC-SHA256 over a small JSON payload with an expiry and a purpose, so a value made for one
cookie cannot pass as another. The key is `[web] secret_key`, or one generated once into the
data directory (mode 0600), so sessions survive restarts without any setup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from inbox.app import Heard

SECRET_FILE = "secret_key"


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

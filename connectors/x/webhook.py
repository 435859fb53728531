"""Account Activity API webhook security: the CRC challenge and the per-event signature.

X proves it owns the webhook URL with a GET carrying `crc_token`; we answer
`sha256=` + base64(HMAC-SHA256(consumer_secret, crc_token)). Every POST carries
`x-twitter-webhooks-signature`, the same HMAC over the raw body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def signature(secret: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response(secret: str, crc_token: str) -> dict[str, str]:
    return {"response_token": signature(secret, crc_token.encode())}


def valid_signature(secret: str, payload: bytes, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(signature(secret, payload), given)

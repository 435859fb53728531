"""Send one message with aiosmtplib; SMTP replies become Heard's errors here, once.

RFC 5321 §4.2.1: 4yz replies are transient (try again), 5yz permanent. A refused recipient is
a RecipientError so agents see "this address does not work" rather than a generic failure.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import aiosmtplib

from connectors.email.config import SmtpSettings
from inbox.errors import AuthError, PermanentError, RateLimitError, RecipientError, TransientError

DEFAULT_RATE_WAIT = 60.0
# RFC 3463 §3.8: X.7.X is "security or policy", where providers put sending limits; others
# only say so in words ("rate limit", "too many messages").
_RATE = re.compile(r"\b4\.7\.\d+\b|rate|too many|throttl|slow down", re.I)
_SECONDS = re.compile(r"(\d+)\s*(s|sec|secs|second|seconds|min|mins|minute|minutes)\b", re.I)


def rate_limit_delay(code: int, text: str) -> float | None:
    """Seconds to wait when a 4xx reply is a sending limit, else None (a plain retry)."""
    if not 400 <= code < 500 or not _RATE.search(text or ""):
        return None
    match = _SECONDS.search(text)
    if match is None:
        return DEFAULT_RATE_WAIT
    value = float(match.group(1))
    return value * 60 if match.group(2).lower().startswith("m") else value


async def send(
    settings: SmtpSettings, msg: EmailMessage, *, sender: str, recipients: list[str]
) -> str:
    """Hand the message to the SMTP server; returns the server's reply text."""
    try:
        context = settings.ssl_context()
        _, reply = await aiosmtplib.send(
            msg,
            sender=sender,
            recipients=recipients,
            hostname=settings.host,
            port=settings.effective_port,
            username=settings.username,
            password=settings.password,
            use_tls=settings.ssl,
            start_tls=bool(settings.starttls),
            timeout=settings.timeout,
            tls_context=context if (settings.ssl or settings.starttls) else None,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(400 <= c < 500 for c in codes):
            raise TransientError(f"recipient deferred: {text}") from exc
        raise RecipientError(f"recipient refused: {text}") from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise AuthError(f"SMTP login refused: {exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        message = f"SMTP server answered {exc.code} {exc.message}"
        if 500 <= exc.code < 600:
            raise PermanentError(message) from exc
        wait = rate_limit_delay(exc.code, exc.message)
        if wait is not None:
            raise RateLimitError(message, wait) from exc
        raise TransientError(message) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientError(f"SMTP connection failed: {exc!r}") from exc
    return reply

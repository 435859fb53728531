"""Send one message with aiosmtplib; SMTP replies become Heard's errors here, once.

RFC 5321 §4.2.1: 4yz replies are transient (try again), 5yz permanent. A refused recipient is
a RecipientError so agents see "this address does not work" rather than a generic failure.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from connectors.email.config import SmtpSettings
from inbox.errors import AuthError, PermanentError, RecipientError, TransientError


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
        raise TransientError(message) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientError(f"SMTP connection failed: {exc!r}") from exc
    return reply

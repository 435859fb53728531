"""Turning store rows into what the agents' pages draw: templates, filters, view models.

Templates are Jinja2 with autoescaping on, so customer text is always escaped; the one place
stored HTML reaches a page is `email_srcdoc`, which cleans it again with nh3 and hands it to a
sandboxed iframe (no scripts, no same origin) under the page's Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import nh3
from aiohttp import web
from markupsafe import Markup

from inbox.models import Conversation, next_due

TEMPLATES = Path(__file__).with_name("templates")

CHANNEL_ICONS = {
    "email": "Email",
    "telegram": "Telegram",
    "x": "X",
    "webchat": "Web chat",
    "webhook": "Webhook",
}
DUE_SOON_SECONDS = 3600

# The page's own policy: scripts only from us, nothing inline, email images only if embedded.
# Sandboxed srcdoc frames inherit it, which is what keeps remote trackers in emails from loading.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def channel_icon(kind: str) -> tuple[Markup, str]:
    """(inline SVG from the local sprite, label): drawn the same with or without emoji fonts."""
    symbol = kind if kind in CHANNEL_ICONS else "other"
    svg = Markup(
        '<svg class="icon" aria-hidden="true"><use href="/static/ui/icons.svg#{}"></use></svg>'
    )
    return svg.format(symbol), CHANNEL_ICONS.get(kind, kind or "channel")


def countdown(due: datetime | None, now: datetime) -> str:
    """`in 2h 05m`, `5m overdue`: short enough for a queue column."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    span = abs(seconds)
    days, rest = divmod(span, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m"
    return f"in {text}" if seconds >= 0 else f"{text} overdue"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return ""


def email_srcdoc(html: str) -> str:
    """Stored email HTML cleaned once more (defence in depth), for a sandboxed srcdoc frame."""
    cleaned = nh3.clean(html, url_schemes={"http", "https", "mailto", "cid", "data"})
    return f'<!doctype html><meta charset="utf-8"><base target="_blank">{cleaned}'


def describe(data: Mapping[str, Any]) -> str:
    """An event's data in one short line for the history list."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)[:300]


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of the merged queue, independent of how the query returned it."""

    id: int
    reference: str
    channel: str
    account: str
    customer: str
    subject: str
    preview: str
    status: str
    assignee: str | None
    team: str | None
    priority: str
    due: datetime | None
    last_activity_at: datetime | None
    tags: list[str] = field(default_factory=list)

    def sla_state(self, now: datetime) -> str:
        if self.due is None or self.status == "resolved":
            return ""
        remaining = (self.due - now).total_seconds()
        if remaining < 0:
            return "breached"
        return "due-soon" if remaining <= DUE_SOON_SECONDS else "ok"


def row_of(conversation: Conversation, customer: str = "") -> QueueRow:
    return QueueRow(
        id=conversation.id,
        reference=conversation.reference or f"#{conversation.id}",
        channel=conversation.channel,
        account=conversation.account,
        customer=customer or conversation.contact.name or "Unknown customer",
        subject=conversation.subject,
        preview=conversation.preview,
        status=conversation.status,
        assignee=conversation.assignee,
        team=conversation.team,
        priority=conversation.priority_name,
        due=next_due(conversation),
        last_activity_at=conversation.last_activity_at,
        tags=conversation.tags,
    )


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["countdown"] = countdown
    env.filters["ago"] = ago
    env.filters["iso"] = lambda d: d.isoformat() if d else ""
    env.globals["channel_icon"] = channel_icon
    env.globals["srcdoc"] = email_srcdoc
    env.globals["describe"] = describe
    return env


ENV = environment()


def page(template: str, status: int = 200, **context: Any) -> web.Response:
    text = ENV.get_template(template).render(now=datetime.now(UTC), **context)
    return web.Response(
        text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )

"""Customer-facing texts (ack, update) rendered from admin templates in a Jinja2 sandbox.

The sandbox matters: templates come from a config file, and a template must not be able to reach
Python internals. Each template has one text per language; the customer's language is used when
there is one, else the default language, else any. `due` is formatted by babel in the customer's
language and the business timezone, because "by Tue, 24 Nov, 15:00 CET" is a promise a customer
can read, and an ISO timestamp in UTC is not.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from rules.schema import TEMPLATE_VARIABLES

BUILTIN: dict[str, dict[str, str]] = {
    "ack": {
        "en": (
            "Hi {{ customer_name or 'there' }}, we have your message ({{ reference }})."
            "{% if owner_name %} {{ owner_name }} will reply{% if due %} by {{ due }}{% endif %}."
            "{% endif %}"
        ),
    },
    "update": {
        "en": (
            "Hi {{ customer_name or 'there' }}, we are still working on {{ reference }}."
            "{% if due %} Expect an answer by {{ due }}{% if owner_name %} from {{ owner_name }}"
            "{% endif %}.{% endif %}"
        ),
    },
}

_ENV = SandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)
_STRICT = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def pick_language(texts: Mapping[str, str], language: str | None, default: str) -> str | None:
    """The language to render in: the customer's (or its primary tag), else default, else first."""
    for candidate in (language, (language or "").split("-")[0], default):
        if candidate and candidate in texts:
            return candidate
    return next(iter(texts), None)


def render(
    templates: Mapping[str, Mapping[str, str]],
    name: str,
    language: str | None,
    default_language: str,
    variables: Mapping[str, Any],
) -> tuple[str, str] | None:
    """Render template `name`; returns (text, language used) or None when it does not exist."""
    texts = templates.get(name) or BUILTIN.get(name)
    if not texts:
        return None
    chosen = pick_language(texts, language, default_language)
    if chosen is None:
        return None
    text = _compiled(texts[chosen]).render(**variables).strip()
    return text, chosen


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Templates are compiled once per text, not per message (compiling costs milliseconds)."""
    return _ENV.from_string(source)


def check_template(source: str) -> str | None:
    """A problem description, or None when the template compiles and uses only known variables."""
    try:
        template = _STRICT.from_string(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error on its line {exc.lineno}: {exc.message}"
    sample = {name: "x" for name in TEMPLATE_VARIABLES}
    try:
        template.render(**sample)
    except Exception as exc:
        return f"template cannot render: {exc}; known variables: {', '.join(TEMPLATE_VARIABLES)}"
    return None


def human_due(due: datetime | None, language: str | None, timezone: str) -> str:
    """'Tue, Nov 24, 3:00 PM CET' in the customer's language, in the business timezone."""
    if due is None:
        return ""
    local = due.astimezone(ZoneInfo(timezone))
    locale = _locale(language)
    day = format_skeleton("MMMEd", local, locale=locale)
    clock = format_time(local, format="short", locale=locale)
    return f"{day}, {clock} {local.tzname()}"


def _locale(language: str | None) -> Locale:
    try:
        return Locale.parse((language or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")

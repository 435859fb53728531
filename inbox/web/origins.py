"""Which origins are Heard's own: the public URL and the host a request came to.

Browsers name the page that started a request in `Origin`. The chat socket compares it with
each widget's allowed sites; the workspace's live stream allows only these.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from inbox.web.app import HEARD_KEY


def own_origins(request: web.Request) -> tuple[str, ...]:
    heard = request.app[HEARD_KEY]
    found = [f"{request.scheme}://{request.host}".lower()]
    if heard.settings.web.public_url:
        from connectors.webchat.config import origin_of

        with contextlib.suppress(ValueError):
            found.append(origin_of(heard.settings.web.public_url))
    return tuple(found)


def foreign_origin(request: web.Request) -> str | None:
    """The request's Origin when it names another site; None for ours or none given (a
    same-origin GET often carries none)."""
    origin = request.headers.get("Origin")
    if not origin or origin.lower() in own_origins(request):
        return None
    return origin

"""HTML from mail made safe to show agents, and readable text made from HTML-only mail.

Sanitizing uses nh3 (ammonia): an allow-list, so scripts, event handlers, forms, iframes and
`javascript:` URLs never survive. Remote images are dropped by default because loading one tells
the sender the mail was read (a tracking pixel); inline `cid:` images stay so the UI can show
the attachment in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import html2text
import nh3

_CLEAN_CONTENT = {"script", "style", "title", "noscript", "template", "xml"}
_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid", "data"}
_ATTRIBUTES = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES.setdefault("*", set()).update({"dir", "lang", "title"})
_ATTRIBUTES["img"] = _ATTRIBUTES["img"] | {"title"}


@dataclass(frozen=True, slots=True)
class CleanHtml:
    html: str
    remote_images_blocked: int = 0


def sanitize(html: str, *, allow_remote_images: bool = False) -> CleanHtml:
    """Sanitized HTML for agents; counts the remote images it refused to load."""
    blocked = 0

    def keep(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        if attr not in ("src", "href"):
            return value
        scheme = value.strip().lower()
        if scheme.startswith("data:"):
            # data: URLs are fine as pictures; as links they can carry whole HTML documents.
            return value if tag == "img" and scheme.startswith("data:image/") else None
        if tag == "img" and attr == "src" and not scheme.startswith("cid:"):
            if allow_remote_images:
                return value
            blocked += 1
            return None
        return value

    cleaned = nh3.clean(
        html,
        attributes=_ATTRIBUTES,
        attribute_filter=keep,
        clean_content_tags=_CLEAN_CONTENT,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return CleanHtml(cleaned.strip(), blocked)


_BLANK_RUNS = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Readable plain text for HTML-only mail: paragraphs, lists and links kept, markup gone."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    converter.inline_links = True
    converter.protect_links = False
    try:
        text = converter.handle(nh3.clean(html, clean_content_tags=_CLEAN_CONTENT))
    except Exception:  # html2text has no error contract; never lose the message over it
        text = nh3.clean(html, tags=set(), clean_content_tags=_CLEAN_CONTENT)
    return _BLANK_RUNS.sub("\n\n", text).strip()

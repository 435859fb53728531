"""Placeholder until this part of the web app lands."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Adds nothing yet."""

"""Builds the aiohttp application from its parts; each part adds its own routes in `setup`."""

from __future__ import annotations

from aiohttp import web

from inbox.app import Heard

HEARD_KEY = web.AppKey("heard", Heard)

# Each module has `setup(app: web.Application) -> None`; order matters for middlewares.
PARTS = (
    "inbox.web.hooks",
    "inbox.web.auth",
    "inbox.web.api",
    "inbox.web.ui",
    "inbox.web.chat",
)


def make_app(heard: Heard) -> web.Application:
    import importlib

    app = web.Application(client_max_size=heard.settings.web.max_body_bytes)
    app[HEARD_KEY] = heard
    app.router.add_get("/healthz", _health)
    for name in PARTS:
        importlib.import_module(name).setup(app)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})

"""`heard run`: the long-running process (web, connectors, worker)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from inbox.cli.common import add_config, load_heard
from inbox.errors import ConfigError, Problem
from inbox.runner import ROLES, Runner
from inbox.startup import first_run, prepare

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser("run", help="serve the web app, poll channels and run the worker")
    add_config(parser)
    parser.add_argument(
        "--roles",
        default=",".join(sorted(ROLES)),
        help="comma-separated subset of web,connectors,worker (default: all)",
    )
    parser.add_argument("--port", type=int, default=None, help="override [web] port")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    roles = {r.strip() for r in args.roles.split(",") if r.strip()}
    unknown = roles - ROLES
    if unknown or not roles:
        raise ConfigError(
            [
                Problem(
                    "--roles", "", f"unknown role(s) {sorted(unknown)}; use web, connectors, worker"
                )
            ]
        )
    heard = load_heard(args)
    if args.port is not None:
        web = heard.settings.web.model_copy(update={"port": args.port})
        heard.settings = heard.settings.model_copy(update={"web": web})
    if heard.settings.queue.in_process and roles != ROLES:
        log.warning(
            "the in-process broker runs every role here; use a redis:// broker to split roles"
        )
        roles = set(ROLES)
    prepare(heard)
    if "web" in roles:
        password = first_run(heard)
        if password:
            settings = heard.settings.web
            print(
                "\nFirst start: created the admin account.\n"
                f"  sign in at  http://{settings.host}:{settings.port}/login\n"
                f"  user        admin\n"
                f"  password    {password}\n"
                "This password is shown once; change it with `heard agents passwd admin`.\n",
                flush=True,
            )
    try:
        asyncio.run(Runner(heard, roles).run())
    finally:
        heard.dispose()
    return 0

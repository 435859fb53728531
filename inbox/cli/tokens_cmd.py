"""`heard tokens create|revoke`: bearer tokens for scripts using the REST API."""

from __future__ import annotations

import argparse
from typing import Any

from inbox import accounts
from inbox.cli.common import add_config, load_heard


def register(commands: Any) -> None:
    group = commands.add_parser("tokens", help="API tokens for scripts")
    sub = group.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="make a token; it is printed once, store it safely")
    add_config(create)
    create.add_argument("--agent", required=True, help="the agent the token acts as")
    create.add_argument("--label", default="", help="what the token is for")
    create.set_defaults(handler=create_token)
    revoke = sub.add_parser("revoke", help="revoke every token of an agent")
    add_config(revoke)
    revoke.add_argument("--agent", required=True)
    revoke.set_defaults(handler=revoke_tokens)


def create_token(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    try:
        with heard.sessions() as session, session.begin():
            token = accounts.create_token(session, args.agent, args.label)
    finally:
        heard.dispose()
    print(token)
    return 0


def revoke_tokens(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    try:
        with heard.sessions() as session, session.begin():
            count = accounts.revoke_tokens(session, args.agent)
    finally:
        heard.dispose()
    print(f"revoked {count} token(s) of {args.agent}")
    return 0

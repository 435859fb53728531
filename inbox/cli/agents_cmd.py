"""`heard agents add|list|passwd|away|back`: accounts for the people who answer customers.

Passwords are read from a prompt (twice) or, for scripts, one line of stdin with
`--password-stdin`; they never appear on the command line, where `ps` and shell history see them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox import accounts
from inbox.app import Heard
from inbox.cli.common import add_config, load_heard
from inbox.errors import BadInput
from inbox.models import Agent, Conversation


def register(commands: Any) -> None:
    group = commands.add_parser("agents", help="add and list agents, set passwords, away/back")
    sub = group.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create an agent (or admin) account")
    add_config(add)
    add.add_argument("key", help="login name, e.g. ann")
    add.add_argument("--name", default="", help="display name shown to customers")
    add.add_argument("--email", default=None)
    add.add_argument("--role", choices=accounts.ROLES, default="agent")
    add.add_argument("--no-password", action="store_true", help="set one later with passwd")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=add_agent)
    ls = sub.add_parser("list", help="agents with role and open conversations")
    add_config(ls)
    ls.set_defaults(handler=list_agents)
    passwd = sub.add_parser("passwd", help="set an agent's password (ends their sessions)")
    add_config(passwd)
    passwd.add_argument("key")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=set_password)
    from inbox.cli.availability_cmd import add_away_back

    add_away_back(sub)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise BadInput("the passwords do not match")
    return first


def add_agent(args: argparse.Namespace) -> int:
    password = None if args.no_password else read_password(args.password_stdin)
    heard = load_heard(args)
    try:
        with heard.sessions() as session, session.begin():
            accounts.add_agent(
                session, args.key, name=args.name, email=args.email, role=args.role,
                password=password,
            )  # fmt: skip
    finally:
        heard.dispose()
    print(f"added {args.role} {args.key}")
    return 0


def sync_config_agents(heard: Heard, session: Session) -> None:
    """Agents written in the config (`[agents.<key>]`) exist before anyone sets a password."""
    from inbox.rulebook import rules_for

    rules_for(heard, session)


def list_agents(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    try:
        with heard.sessions() as session, session.begin():
            sync_config_agents(heard, session)
            load = dict(
                session.execute(  # type: ignore[arg-type]
                    select(Conversation.assignee, func.count())
                    .where(Conversation.status.in_(("open", "pending")))
                    .group_by(Conversation.assignee)
                ).all()
            )
            agents = session.scalars(select(Agent).order_by(Agent.key)).all()
            print(f"{'KEY':<16} {'ROLE':<6} {'OPEN':>5} {'CAP':>4}  {'PASSWORD':<8} NAME")
            for a in agents:
                state = "" if a.active else " (inactive)"
                print(
                    f"{a.key:<16} {a.role:<6} {load.get(a.key, 0):>5} {a.capacity:>4}  "
                    f"{'set' if a.password_hash else 'none':<8} {a.name}{state}"
                )
    finally:
        heard.dispose()
    return 0


def set_password(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    heard = load_heard(args)
    try:
        with heard.sessions() as session, session.begin():
            sync_config_agents(heard, session)
            accounts.set_password(session, args.key, password)
    finally:
        heard.dispose()
    print(f"password set for {args.key}; their old sessions are signed out")
    return 0

"""`heard db upgrade|current`: the store's schema migrations."""

from __future__ import annotations

import argparse
from typing import Any

from inbox import migrate
from inbox.cli.common import add_config, load_heard


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="store schema migrations")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = sub.add_parser("upgrade", help="apply every pending migration")
    add_config(up)
    up.set_defaults(handler=upgrade)
    cur = sub.add_parser("current", help="show the applied revision(s)")
    add_config(cur)
    cur.set_defaults(handler=current)


def upgrade(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    try:
        revisions = migrate.upgrade(heard.engine)
    finally:
        heard.dispose()
    print(f"store is at revision {', '.join(revisions)}")
    return 0


def current(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    try:
        print(", ".join(migrate.current(heard.engine)) or "(empty store)")
    finally:
        heard.dispose()
    return 0

"""The `heard` command line: one module per command group, each adding its subcommands.

Every command takes `--config PATH` after its name (default: $HEARD_CONFIG, else ./heard.toml).
Errors the user can fix (config, bad input) are printed plainly with exit code 2, never as a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from inbox.errors import ConfigError, HeardError

# command name -> the module that registers it
COMMAND_MODULES = {
    "run": "inbox.cli.run_cmd",
    "sync": "inbox.cli.sync_cmd",
    "db": "inbox.cli.db_cmd",
    "conversations": "inbox.cli.conversations_cmd",
    "rules": "inbox.cli.rules_cmd",
    "availability": "inbox.cli.availability_cmd",
    "agents": "inbox.cli.agents_cmd",
    "tokens": "inbox.cli.tokens_cmd",
    "contacts": "inbox.cli.contacts_cmd",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Only the named command's module is imported, so `heard sync` from cron does not pay for
    the web server's imports; `heard --help` (or no command) imports them all."""
    parser = argparse.ArgumentParser(prog="heard", description="Heard: the unified inbox.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = [a for a in (argv or []) if a in COMMAND_MODULES][:1]
    for name in named or list(COMMAND_MODULES):
        importlib.import_module(COMMAND_MODULES[name]).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from inbox.memory import keep_big_blocks_out_of_the_heap

    keep_big_blocks_out_of_the_heap()  # flat memory over a long import (inbox.memory)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        from inbox.config import problems_text

        print(problems_text(exc.problems), file=sys.stderr)
        return 2
    except HeardError as exc:
        print(f"heard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

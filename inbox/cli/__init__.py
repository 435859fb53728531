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

COMMAND_MODULES = (
    "inbox.cli.run_cmd",
    "inbox.cli.sync_cmd",
    "inbox.cli.db_cmd",
    "inbox.cli.conversations_cmd",
    "inbox.cli.rules_cmd",
    "inbox.cli.availability_cmd",
    "inbox.cli.agents_cmd",
    "inbox.cli.tokens_cmd",
    "inbox.cli.contacts_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heard", description="Heard: the unified inbox.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from inbox.memory import keep_big_blocks_out_of_the_heap

    keep_big_blocks_out_of_the_heap()  # flat memory over a long import (inbox.memory)
    parser = build_parser()
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

"""What every command shares: the --config option and loading a Heard from it."""

from __future__ import annotations

import argparse

from inbox.app import Heard
from inbox.config import config_path, load_settings


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help="config file (default: $HEARD_CONFIG, else ./heard.toml)",
    )


def load_heard(args: argparse.Namespace) -> Heard:
    return Heard(load_settings(config_path(args.config)))

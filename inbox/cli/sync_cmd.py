"""`heard sync`: poll every pull channel once and finish all resulting work (cron, tests)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from inbox.app import Heard
from inbox.cli.common import add_config, load_heard
from inbox.queue import start_queue, stop_queue
from inbox.startup import prepare
from inbox.sync import sync_once
from inbox.tasks import sweep


def register(commands: Any) -> None:
    parser = commands.add_parser("sync", help="poll every pull channel once, then drain the queue")
    add_config(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--since",
        type=date.fromisoformat,
        metavar="DATE",
        help="mail channels: import only mail received on or after DATE (YYYY-MM-DD)",
    )
    parser.set_defaults(handler=run)


def limit_history(heard: Heard, since: date | None) -> None:
    """Apply --since to every connector that reads history by date (email)."""
    if since is None:
        return
    for channel in heard.enabled_channels():
        connector = heard.connector(channel.name)
        if hasattr(connector, "since"):
            connector.since = since


def watch_backlogs(heard: Heard) -> dict[str, int]:
    """Totals for the progress bar from connectors that know their backlog (email's SEARCH)."""
    totals: dict[str, int] = {}
    for channel in heard.enabled_channels():
        connector = heard.connector(channel.name)
        if hasattr(connector, "progress"):
            fetched = [0]

            def hook(
                n: int, left: int, name: str = channel.name, seen: list[int] = fetched
            ) -> None:
                seen[0] += n
                totals[name] = seen[0] + left

            connector.progress = hook
    return totals


def run(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    limit_history(heard, args.since)
    prepare(heard)
    start_queue(heard)
    try:
        sweep(heard)
        show = not args.quiet and sys.stderr.isatty()
        if show:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
            with Progress(*columns, transient=True) as bar:
                tasks: dict[str, Any] = {}
                counts: dict[str, int] = {}
                totals = watch_backlogs(heard)

                def progress(name: str, n: int) -> None:
                    counts[name] = counts.get(name, 0) + n
                    if name not in tasks:
                        tasks[name] = bar.add_task(name, total=None)
                    total = totals.get(name)
                    of = f" of {total}" if total else ""
                    bar.update(
                        tasks[name],
                        description=f"{name}: {counts[name]}{of} messages",
                        total=total,
                        completed=counts[name],
                    )

                report = sync_once(heard, progress=progress)
        else:
            report = sync_once(heard)
    finally:
        stop_queue(heard)
        heard.dispose()
    for name, stored in report.stored.items():
        print(f"{name}: {stored} new, {report.duplicates.get(name, 0)} already stored")
    for name, error in report.errors.items():
        print(f"{name}: FAILED: {error}", file=sys.stderr)
    return 0 if report.ok else 1

"""Ingest throughput: messages/s into the store through the ingest function.

Two shapes, on SQLite (file, WAL) and PostgreSQL: pulled batches of 200 with their cursor in one
transaction (how IMAP, Telegram and X arrive) and one transaction per message (how webhooks
arrive, each committed before the 2xx). A third of the messages join existing threads.

    .venv/bin/python tests/benchmarks/bench_ingest.py [--messages 5000] [--pg URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import create_engine, text

from inbox.app import Heard
from inbox.config import settings_from_text
from inbox.ingest import store_batch, store_messages
from inbox.migrate import upgrade
from inbox.types import Batch, InboundMessage, Sender


def messages(n: int, tag: str) -> list[InboundMessage]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        thread = i // 3  # three messages per thread
        out.append(
            InboundMessage(
                channel="webhook",
                account="bench",
                external_id=f"{tag}-{i}",
                sender=Sender(handle=f"+49{thread % 5000:06d}", name=f"Customer {thread}"),
                text=f"Message {i}: where is my order {thread}? " + "lorem ipsum " * 20,
                received_at=now,
                thread_keys=(f"thread:{tag}-{thread}",),
                raw=b"{}" * 100,
            )
        )
    return out


def heard_for(url: str) -> Heard:
    settings = settings_from_text(f'[store]\nurl = "{url}"\n', "bench.toml")
    heard = Heard(settings)
    upgrade(heard.engine)
    return heard


def run(url: str, n: int, batched: bool, progress: Progress) -> float:
    heard = heard_for(url)
    items = messages(n, uuid.uuid4().hex[:8])
    task = progress.add_task(f"{'batches' if batched else 'single'} {url.split(':')[0]}", total=n)
    started = time.perf_counter()
    if batched:
        for i in range(0, n, 200):
            chunk = items[i : i + 200]
            store_batch(heard, "bench", Batch(chunk, next_cursor=str(i)))
            progress.advance(task, len(chunk))
    else:
        for item in items:
            store_messages(heard, [item])
            progress.advance(task)
    elapsed = time.perf_counter() - started
    heard.dispose()
    return n / elapsed


def fresh_pg(admin_url: str) -> tuple[str, str]:
    name = f"heard_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_pg(admin_url: str, name: str) -> None:
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Progress(transient=True) as progress:
        for batched in (True, False):
            url = f"sqlite:///{Path(tmp) / f'bench-{batched}.db'}"
            rows.append(
                (
                    "SQLite (WAL)",
                    "batches of 200" if batched else "one per transaction",
                    run(url, args.messages, batched, progress),
                )
            )
        if not args.no_pg:
            for batched in (True, False):
                url, name = fresh_pg(args.pg)
                try:
                    rows.append(
                        (
                            "PostgreSQL",
                            "batches of 200" if batched else "one per transaction",
                            run(url, args.messages, batched, progress),
                        )
                    )
                finally:
                    drop_pg(args.pg, name)
    table = Table(title=f"Ingest throughput, {args.messages} messages")
    table.add_column("store")
    table.add_column("shape")
    table.add_column("messages/s", justify="right")
    for store, shape, rate in rows:
        table.add_row(store, shape, f"{rate:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()

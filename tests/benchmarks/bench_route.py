"""End-to-end route throughput: messages/s from ingest to acknowledgement queued.

Each message is a new customer on the webhook channel: ingest (one transaction, as webhooks
arrive), then the route job in its own transaction: rules, language, round-robin owner under
capacity locks, SLA due times in business hours, ack rendered and written to the outbox. This is
the work a worker does per new conversation; delivery to the channel is not included. The CPU
column is this process only (not the database server), a steadier figure on a busy machine.

    .venv/bin/python tests/benchmarks/bench_route.py [--messages 1000] [--pg URL] [--no-pg]
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
from sqlalchemy import create_engine, func, select, text

from inbox.app import Heard
from inbox.config import settings_from_text
from inbox.ingest import store_messages
from inbox.migrate import upgrade
from inbox.models import Outbound
from inbox.route import route_conversation
from inbox.types import InboundMessage, Sender

RULES = """
[business_hours.office]
timezone = "Europe/Berlin"
hours = "09:00-18:00"

[sla.standard]
first_response = "12h"
resolution = "3d"
business_hours = "office"
warn_before = "1h"

[agents.ann]
name = "Ann Schmidt"
capacity = 100000
languages = ["en", "de"]
[agents.boris]
name = "Boris Ivanov"
capacity = 100000
languages = ["en", "ru"]

[teams.support]
agents = ["ann", "boris"]
sla = "standard"
escalate_to = "boris"

[templates.ack]
en = "Hi {{ customer_name }}, we have your message ({{ reference }}). {{ owner_name }} will reply by {{ due }}."
de = "Hallo {{ customer_name }}, Ihre Nachricht ({{ reference }}) ist da. {{ owner_name }} antwortet bis {{ due }}."

[defaults]
team = "support"
"""

CHANNEL = """
[[channels]]
type = "webhook"
name = "bench"
secret = "s"
callback_url = "http://127.0.0.1:9/unused"
"""

TEXTS = [
    "Hello, my parcel has not arrived yet and the tracking page shows nothing. Can you help?",
    "Hallo, mein Paket ist noch nicht angekommen und die Sendungsverfolgung zeigt nichts an.",
    "I would like to change the delivery address for my last order, please.",
]


def rule_list(count: int) -> str:
    return "".join(
        f'[[rules.list]]\nname = "rule {i}"\nwhen.text_any = ["kw{i}a", "kw{i}b"]\nthen.tags = ["t{i}"]\n'
        for i in range(count)
    )


def heard_for(url: str) -> Heard:
    settings = settings_from_text(
        f'[store]\nurl = "{url}"\n' + CHANNEL + RULES + rule_list(50), "bench.toml"
    )
    heard = Heard(settings)
    upgrade(heard.engine)
    return heard


def run(url: str, n: int, progress: Progress) -> tuple[float, float]:
    heard = heard_for(url)
    tag = uuid.uuid4().hex[:8]
    task = progress.add_task(url.split(":")[0], total=n)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        message = InboundMessage(
            channel="webhook",
            account="bench",
            external_id=f"{tag}-{i}",
            sender=Sender(handle=f"cust-{tag}-{i}", name=f"Customer {i}"),
            text=TEXTS[i % len(TEXTS)],
            received_at=datetime.now(UTC),
            thread_keys=(f"t:{tag}-{i}",),
        )
        [result] = store_messages(heard, [message])
        with heard.sessions() as session, session.begin():
            route_conversation(heard, session, result.conversation_id)
        progress.advance(task)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with heard.sessions() as session:
        acks = session.scalar(select(func.count(Outbound.id)).where(Outbound.kind == "ack"))
    assert acks == n, f"expected {n} acks queued, found {acks}"
    heard.dispose()
    return n / elapsed, cpu / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Progress(transient=True) as progress:
        rows.append(
            ("SQLite (WAL)", run(f"sqlite:///{Path(tmp) / 'route.db'}", args.messages, progress))
        )
        if not args.no_pg:
            name = f"heard_bench_route_{uuid.uuid4().hex[:8]}"
            admin = create_engine(
                args.pg.replace("postgresql://", "postgresql+psycopg://"),
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                rows.append(
                    (
                        "PostgreSQL",
                        run(args.pg.rsplit("/", 1)[0] + f"/{name}", args.messages, progress),
                    )
                )
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    table = Table(
        title=f"Route throughput, {args.messages} new conversations (ingest → ack queued)"
    )
    table.add_column("store")
    table.add_column("messages/s", justify="right")
    table.add_column("worker CPU ms/message", justify="right")
    for store, (rate, cpu_ms) in rows:
        table.add_row(store, f"{rate:,.0f}", f"{cpu_ms:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()

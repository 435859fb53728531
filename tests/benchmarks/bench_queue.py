"""Queue views at scale: seed many conversations, time the agents' main listings.

    .venv/bin/python tests/benchmarks/bench_queue.py                 # both stores
    .venv/bin/python tests/benchmarks/bench_queue.py --skip-sqlite --pg-rows 200000

Seeds 1,000,000 conversations into a fresh PostgreSQL database (COPY) and 100,000 into a
temporary SQLite file (executemany), with a realistic mix (most resolved, a tenth open, some
pending/snoozed, a third of the open ones unassigned), then runs every main view through
`inbox.queries.list_conversations` — the code the API and UI use, including the JSON shaping —
and prints p50/p95 latency per view. Target: p95 under 50 ms on PostgreSQL.
The PostgreSQL database is the benchmark's own and is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.schema import CreateIndex

from inbox import queries
from inbox.migrate import upgrade
from inbox.models import NO_DUE, Contact, Conversation, ConversationTag
from inbox.store import make_engine, session_factory

PG_ADMIN = os.environ.get("HEARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
AGENTS = [f"agent-{i}" for i in range(40)]
TEAMS = ["billing", "support", "sales", "returns", "vip"]
CHANNELS = [
    ("email", "support"),
    ("telegram", "tg"),
    ("x", "x"),
    ("webchat", "site"),
    ("webhook", "forms"),
]
STATUS_WEIGHTS = {"resolved": 85, "open": 10, "pending": 3, "snoozed": 2}
CONTACT_RATIO = 4  # conversations per customer, on average
NOW = datetime.now(UTC)


# Seeding -------------------------------------------------------------------------------------
def rows(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    contacts = max(1, count // CONTACT_RATIO)
    for i in range(1, count + 1):
        status = rng.choices(statuses, weights)[0]
        channel, account = CHANNELS[i % len(CHANNELS)]
        created = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 365))
        activity = created + timedelta(minutes=rng.randint(0, 600))
        first_due = created + timedelta(hours=rng.choice((1, 4, 8, 24)))
        answered = status == "resolved" or rng.random() < 0.4
        due = NO_DUE
        if not answered:
            # Unanswered work is recent: deadlines from two days ago to two days ahead.
            first_due = NOW + timedelta(minutes=rng.randint(-2 * 24 * 60, 2 * 24 * 60))
            due = first_due
        yield {
            "id": i,
            "reference": f"R-{1000 + i}",
            "channel": channel,
            "account": account,
            "contact_id": rng.randint(1, contacts),
            "subject": f"Order {rng.randint(1000, 999999)} question",
            "preview": "Hello, I have a question about my order",
            "status": status,
            "team": rng.choice(TEAMS) if rng.random() < 0.8 else None,
            "assignee": rng.choice(AGENTS) if rng.random() < 0.66 else None,
            "priority": rng.choices((0, 1, 2, 3), (10, 70, 15, 5))[0],
            "is_public": False,
            "thread": {},
            "first_response_due": first_due,
            "first_response_at": None if not answered else created + timedelta(minutes=30),
            "sla_due_at": due,
            "last_activity_at": activity,
            "created_at": created,
            "updated_at": activity,
        }


def contact_rows(count: int) -> Iterator[dict[str, Any]]:
    for i in range(1, max(1, count // CONTACT_RATIO) + 1):
        yield {"id": i, "name": f"Customer {i}", "email": f"c{i}@example.com", "tags": [],
               "created_at": NOW}  # fmt: skip


def tag_rows(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(11)
    for i in range(1, count + 1):
        if rng.random() < 0.05:
            yield {"conversation_id": i, "tag": rng.choice(("vip", "refund", "bug"))}


def progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"\r  {label}: {done:>9,}/{total:,} rows ({rate:,.0f}/s)", end="", flush=True)


def seed_sqlite(engine: Engine, count: int) -> None:
    chunk = 20_000
    with engine.begin() as conn:
        conn.execute(insert(Contact), list(contact_rows(count)))
        started = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for n, row in enumerate(rows(count), 1):
            batch.append(row)
            if len(batch) == chunk or n == count:
                conn.execute(insert(Conversation), batch)
                batch.clear()
                progress("conversations", n, count, started)
        conn.execute(insert(ConversationTag), list(tag_rows(count)))
        conn.exec_driver_sql("ANALYZE")
    print()


def seed_postgres(engine: Engine, count: int) -> None:
    columns = list(next(rows(1)))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY contacts (id, name, email, tags, created_at) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for c in contact_rows(count):
                copy.write_row((c["id"], c["name"], c["email"], "[]", c["created_at"]))
        # Loading first and indexing after is several times faster than keeping indexes live.
        indexes = sorted(Conversation.__table__.indexes, key=lambda i: str(i.name))
        for index in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{index.name}"')
        started = time.perf_counter()
        with cursor.copy(f"COPY conversations ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for n, row in enumerate(rows(count), 1):
                row["thread"] = "{}"
                copy.write_row(tuple(row[c] for c in columns))
                if n % 50_000 == 0 or n == count:
                    progress("conversations", n, count, started)
        print()
        for n, index in enumerate(indexes, 1):
            print(f"\r  indexing: {n}/{len(indexes)} {index.name:<40}", end="", flush=True)
            cursor.execute(str(CreateIndex(index).compile(dialect=engine.dialect)))
        print()
        with cursor.copy("COPY conversation_tags (conversation_id, tag) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for t in tag_rows(count):
                copy.write_row((t["conversation_id"], t["tag"]))
        for table in ("contacts", "conversations"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        raw.commit()
        print("  ANALYZE ...", flush=True)
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


# Measuring -----------------------------------------------------------------------------------
def views(cursor_of_page: Callable[[], str | None]) -> dict[str, queries.QueueFilter]:
    Q = queries.QueueFilter
    return {
        "All open (SLA order)": Q(status=["open"]),
        "Mine": Q(status=["open"], assignee="agent-7"),
        "Unassigned": Q(status=["open"], assignee="unassigned"),
        "Due soon": Q(status=["open"], sla="due_soon"),
        "Breached": Q(status=["open"], sla="breached"),
        "Team billing": Q(status=["open"], team="billing"),
        "By priority": Q(status=["open"], sort="priority"),
        "By last activity": Q(status=["open"], sort="activity"),
        "Open + pending": Q(status=["open", "pending"]),
        "All open, page 5": Q(status=["open"], after=cursor_of_page()),
        "Tag vip (open)": Q(status=["open"], tag="vip"),
        "Channel telegram (open)": Q(status=["open"], channel=["telegram"]),
    }


def page_cursor(engine: Engine, pages: int) -> str | None:
    sessions = session_factory(engine)
    cursor = None
    with sessions() as session:
        for _ in range(pages - 1):
            cursor = queries.list_conversations(
                session, queries.QueueFilter(status=["open"], after=cursor)
            ).next_cursor
    return cursor


def measure(engine: Engine, runs: int) -> list[tuple[str, float, float, int]]:
    """Round-robin over the views, so a burst of load elsewhere hits them all alike."""
    sessions = session_factory(engine)
    filters = views(lambda: page_cursor(engine, 5))
    times: dict[str, list[float]] = {name: [] for name in filters}
    counts: dict[str, int] = {}
    with sessions() as session:  # warm the statement cache and the database's buffers
        for f in filters.values():
            for _ in range(3):
                queries.list_conversations(session, f)
    for _ in range(runs):
        for name, f in filters.items():
            with sessions() as session:
                started = time.perf_counter()
                page = queries.list_conversations(session, f)
                items = [queries.summary_json(c, page.now) for c in page.items]
                times[name].append((time.perf_counter() - started) * 1000)
                counts[name] = len(items)
    results = []
    for name, samples in times.items():
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        results.append((name, statistics.median(samples), p95, counts[name]))
    return results


def report(store: str, total: int, results: list[tuple[str, float, float, int]]) -> bool:
    print(f"\n{store}: {total:,} conversations, 50 per page")
    print(f"  {'view':<26} {'p50 ms':>8} {'p95 ms':>8} {'rows':>5}")
    for name, p50, p95, count in results:
        print(f"  {name:<26} {p50:>8.1f} {p95:>8.1f} {count:>5}")
    worst = max(p95 for _, _, p95, _ in results)
    print(f"  worst p95: {worst:.1f} ms")
    return worst < 50


def bench_sqlite(count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        print(f"SQLite: seeding {count:,} conversations")
        seed_sqlite(engine, count)
        report("SQLite", count, measure(engine, runs))
        engine.dispose()


def bench_postgres(count: int, runs: int) -> bool:
    name = f"heard_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        print(f"PostgreSQL: seeding {count:,} conversations")
        seed_postgres(engine, count)
        with session_factory(engine)() as session:
            open_count = session.scalar(
                select(func.count()).select_from(Conversation).where(Conversation.status == "open")
            )
        print(f"  {open_count:,} open")
        return report("PostgreSQL", count, measure(engine, runs))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60, help="timed runs per view")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    ok = True
    if not args.skip_sqlite:
        bench_sqlite(args.sqlite_rows, args.runs)
    if not args.skip_pg:
        ok = bench_postgres(args.pg_rows, args.runs)
        print("target p95 < 50 ms on PostgreSQL:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

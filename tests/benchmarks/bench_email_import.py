"""Benchmark: import N mails from Dovecot into the store with `heard sync`, beside a bare
reference pipeline (imapclient batch fetch + stdlib parse + one SQLite transaction).

    .venv/bin/python tests/benchmarks/bench_email_import.py [--sizes 2000,10000]
        [--rules] [--recent PERCENT]

Prints messages/s and peak RSS for both, per N. By default there are no rules and every mail
arrived just now. `--rules` routes with rules.example.toml (owners, promises, acknowledgements
queued), and `--recent 5` makes 95 % of the mail two months old, as in a first import of a
mailbox's history (filed resolved, never acknowledged): together, what a real first run costs. Targets (issue 3): at least 450 msg/s end to
end, at least half the reference rate, and peak RSS at the largest N within 20 % of the
smallest. Each measurement runs in a fresh child process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.servers.dovecot import Dovecot  # noqa: E402

RUSSIAN = "Здравствуйте! Заказ номер {n} так и не пришёл, помогите пожалуйста. "
JAPANESE = "注文番号{n}の商品がまだ届いていません。確認をお願いします。"
GERMAN = "Grüße! Die Bestellung {n} ist beschädigt angekommen, bitte um Ersatz. "


def make_mail(n: int, rng: random.Random) -> bytes:
    """Mixed sizes and encodings, like a real support inbox."""
    kind = rng.random()
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <customer{n % 3000}@example{n % 50}.com>"
    msg["To"] = "support@example.com"
    msg["Date"] = "Fri, 20 Nov 2026 09:30:00 +0000"
    msg["Message-ID"] = f"<bench-{n}-{rng.getrandbits(32):x}@example.com>"
    if n % 4:
        msg["In-Reply-To"] = f"<bench-{max(0, n - 3)}@example.com>"
    if kind < 0.35:
        msg["Subject"] = f"Order {n} question"
        msg.set_content(("Hello, where is my order? " * rng.randint(3, 40)) + f"\n\nThanks, {n}\n")
    elif kind < 0.50:
        msg["Subject"] = f"Заказ {n}"
        msg.set_content(RUSSIAN.format(n=n) * rng.randint(2, 30), charset="koi8-r", cte="base64")
    elif kind < 0.60:
        msg["Subject"] = f"注文 {n}"
        msg.set_content(JAPANESE.format(n=n) * rng.randint(2, 20), charset="iso-2022-jp")
    elif kind < 0.70:
        msg["Subject"] = f"Bestellung {n} beschädigt"
        msg.set_content(
            GERMAN.format(n=n) * rng.randint(2, 30), charset="iso-8859-1", cte="quoted-printable"
        )
    elif kind < 0.88:
        msg["Subject"] = f"Re: Order {n}"
        text = (
            f"Still waiting for {n}.\n\nOn Mon, Support wrote:\n"
            + "> earlier text\n" * rng.randint(5, 80)
        )
        msg.set_content(text)
        html = (
            "<html><body>"
            + "".join(
                f"<p>Paragraph {i} about order {n} with <b>bold</b> and <a href='https://shop.example/{i}'>a link</a></p>"
                for i in range(rng.randint(5, 60))
            )
            + "<img src='https://tracker.example/p.gif'></body></html>"
        )
        msg.add_alternative(html, subtype="html")
    elif kind < 0.93:
        msg["Subject"] = f"HTML only {n}"
        msg.set_content(
            "<html><body><div>"
            + "<p>Newsletter-ish text block.</p>" * rng.randint(10, 120)
            + "</div></body></html>",
            subtype="html",
        )
    else:
        msg["Subject"] = f"Photo of damage {n}"
        msg.set_content("Photo attached.\n")
        blob = rng.randbytes(rng.randint(20_000, 400_000))
        msg.add_attachment(blob, maintype="image", subtype="jpeg", filename=f"damage-{n}.jpg")
    return msg.as_bytes()


def fill(server: Dovecot, folder: str, n: int, recent: float = 100.0) -> None:
    rng = random.Random(n)
    old = datetime.now(UTC) - timedelta(days=60)
    client = server.client()
    try:
        client.create_folder(folder)
        chunk: list[Any] = []
        for i in range(n):
            raw = make_mail(i, rng)
            chunk.append(raw if rng.random() * 100 < recent else {"msg": raw, "date": old})
            if len(chunk) == 200 or i == n - 1:
                client.multiappend(folder, chunk)
                chunk = []
                print(f"\r  appended {i + 1}/{n}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        client.logout()


# Child processes --------------------------------------------------------------------------
def child_heard(
    port: int, folder: str, workdir: str, parse_processes: int | None = None, rules: bool = False
) -> dict[str, float]:
    from inbox.cli import main

    processes = "" if parse_processes is None else f"parse_processes = {parse_processes}"
    with_rules = f'[rules]\nfiles = ["{ROOT / "rules.example.toml"}"]' if rules else ""
    config = Path(workdir) / "heard.toml"
    config.write_text(
        f"""
{with_rules}

[store]
url = "sqlite:///{workdir}/heard.db"
attachments_dir = "{workdir}/attachments"

[[channels]]
type = "email"
name = "support"
address = "support@example.com"
batch_size = 200
mark_seen = false
{processes}

[channels.imap]
host = "127.0.0.1"
port = {port}
ssl = false
username = "support"
password = "secret"
folder = "{folder}"
""",
        encoding="utf-8",
    )
    # The store is created by another process, so the timed command starts as a user's would:
    # only its own imports (SQLAlchemy and the rest) are loaded, inside the timing.
    subprocess.run(
        [sys.executable, "-m", "inbox", "db", "upgrade", "--config", str(config)],
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    code = main(["sync", "--quiet", "--config", str(config)])
    elapsed = time.perf_counter() - started
    assert code == 0
    count = (
        sqlite3.connect(f"{workdir}/heard.db")
        .execute("select count(*) from messages where direction = 'in'")
        .fetchone()[0]
    )
    return {"count": count, "seconds": elapsed}


def child_reference(port: int, folder: str, workdir: str) -> dict[str, float]:
    from imapclient import IMAPClient

    started = time.perf_counter()
    db = sqlite3.connect(f"{workdir}/ref.db")
    db.execute(
        "create table m (id text primary key, sender text, subject text, body text, raw blob)"
    )
    client = IMAPClient("127.0.0.1", port=port, ssl=False)
    client.login("support", "secret")
    client.select_folder(folder, readonly=True)
    uids = client.search(["ALL"])
    with db:
        for i in range(0, len(uids), 200):
            batch = uids[i : i + 200]
            for item in client.fetch(batch, ["BODY.PEEK[]"]).values():
                raw = item[b"BODY[]"]
                msg = message_from_bytes(raw, policy=policy.default)
                body = msg.get_body(preferencelist=("plain", "html"))
                text = body.get_content() if body is not None else ""
                db.execute(
                    "insert or ignore into m values (?, ?, ?, ?, ?)",
                    (str(msg["Message-ID"]), str(msg["From"]), str(msg["Subject"]), text, raw),
                )
    client.logout()
    elapsed = time.perf_counter() - started
    count = db.execute("select count(*) from m").fetchone()[0]
    return {"count": count, "seconds": elapsed}


def run_child(
    kind: str, port: int, folder: str, parse_processes: int | None, rules: bool = False
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="heard-bench-") as workdir:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                "--port",
                str(port),
                "--folder",
                folder,
                "--workdir",
                workdir,
                *(
                    ["--parse-processes", str(parse_processes)]
                    if parse_processes is not None
                    else []
                ),
                *(["--rules"] if rules else []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--child", choices=["heard", "reference"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--folder")
    parser.add_argument("--workdir")
    parser.add_argument(
        "--parse-processes",
        type=int,
        default=None,
        help="heard: email parse_processes (default: the channel's default)",
    )
    parser.add_argument("--rules", action="store_true", help="heard: route with the example rules")
    parser.add_argument(
        "--recent",
        type=float,
        default=100.0,
        help="percent of the mail that arrived now; the rest is two months old (default 100)",
    )
    args = parser.parse_args()
    if args.child:
        if args.child == "heard":
            result = child_heard(
                args.port, args.folder, args.workdir, args.parse_processes, args.rules
            )
        else:
            result = child_reference(args.port, args.folder, args.workdir)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    server = Dovecot.start({"support": "secret"})
    rows = []
    try:
        for n in sizes:
            folder = f"bench{n}"
            print(f"filling {folder} with {n} mails", file=sys.stderr)
            fill(server, folder, n, args.recent)
            for kind in ("reference", "heard"):
                print(f"  running {kind} on {n}", file=sys.stderr)
                r = run_child(kind, server.port, folder, args.parse_processes, args.rules)
                assert r["count"] == n, f"{kind} stored {r['count']} of {n}"
                rows.append((n, kind, r["count"] / r["seconds"], r["seconds"], r["peak_rss_mb"]))
    finally:
        server.stop()
    print(f"\n{'N':>7} {'pipeline':<10} {'msg/s':>8} {'seconds':>8} {'peak RSS MB':>12}")
    for n, kind, rate, seconds, rss in rows:
        print(f"{n:>7} {kind:<10} {rate:>8.0f} {seconds:>8.1f} {rss:>12.0f}")
    by = {(n, k): (rate, rss) for n, k, rate, _, rss in rows}
    for n in sizes:
        ratio = by[(n, "heard")][0] / by[(n, "reference")][0]
        print(f"N={n}: heard is {ratio:.0%} of the reference rate (target ≥ 50 %, ≥ 450 msg/s)")
    if len(sizes) > 1:
        growth = by[(sizes[-1], "heard")][1] / by[(sizes[0], "heard")][1] - 1
        print(f"peak RSS growth {sizes[0]} → {sizes[-1]}: {growth:+.0%} (target within 20 %)")


if __name__ == "__main__":
    main()

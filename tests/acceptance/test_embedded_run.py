"""The newcomer's path: `heard run` on the embedded default, a webhook in, a reply out.

These start `heard run` as a real process, so they also prove the CLI, migrations at start,
the in-process broker and clean shutdown on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from connectors.webhook import sign
from tests.acceptance.process import HeardProcess, free_port
from tests.servers.http_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "change-me-please"


def heard_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inbox", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "heard.toml")
    for extra in ("rules.example.toml",):
        if (ROOT / extra).exists():
            shutil.copy(ROOT / extra, tmp_path / extra)
    return tmp_path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=2).start()
    yield server
    server.stop()


def with_callback(workdir: Path, url: str) -> None:
    path = workdir / "heard.toml"
    text = path.read_text()
    marker = '# callback_url = "https://sms-gateway.example.com/heard-outbound"'
    assert marker in text, "config.example.toml must show the webhook callback_url"
    text = text.replace(marker, f'callback_url = "{url}"')
    text = text.replace("retry_base_seconds = 2", "retry_base_seconds = 0.1")
    path.write_text(text.replace("sweep_interval = 15", "sweep_interval = 1"))


async def post_all(
    base: str,
    payloads: list[dict[str, str]],
    concurrency: int = 16,
    results: dict[str, int] | None = None,
) -> dict[str, int]:
    """POST each payload signed; returns message_id -> HTTP status (0 = connection failed)."""
    results = {} if results is None else results
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            payload = queue.get_nowait()
            body = json.dumps(payload).encode()
            try:
                async with session.post(
                    f"{base}/hooks/forms",
                    data=body,
                    headers={"X-Heard-Signature": sign(SECRET, body)},
                ) as response:
                    await response.read()
                    results[payload["message_id"]] = response.status
            except (TimeoutError, aiohttp.ClientError):
                results[payload["message_id"]] = 0

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return results


@pytest.mark.slow
def test_newcomer_runs_heard_and_a_webhook_round_trips(workdir: Path, receiver: Receiver) -> None:
    with_callback(workdir, receiver.url)
    process = HeardProcess(workdir / "heard.toml", free_port(), workdir).start()
    try:
        payload = {
            "message_id": "sms-1",
            "sender_id": "+4917612345",
            "sender_name": "Ann Example",
            "text": "My parcel is late",
        }
        statuses = asyncio.run(post_all(process.base, [payload], concurrency=1))
        assert statuses == {"sms-1": 200}
        listing = heard_cli(workdir, "conversations", "list", "--json", "--config", "heard.toml")
        assert listing.returncode == 0, listing.stderr
        [conversation] = json.loads(listing.stdout)
        assert conversation["channel"] == "webhook" and conversation["account"] == "forms"
        assert conversation["contact"]["name"] == "Ann Example"
        assert conversation["contact"]["identities"] == [
            {"channel": "webhook", "handle": "+4917612345", "verified": False}
        ]
        inbound = [m for m in conversation["messages"] if m["direction"] == "in"]
        assert [m["text"] for m in inbound] == ["My parcel is late"]
        for key in (
            "id",
            "reference",
            "status",
            "subject",
            "team",
            "assignee",
            "priority",
            "tags",
            "first_response_due",
            "resolution_due",
            "created_at",
            "updated_at",
        ):
            assert key in conversation
        replied = heard_cli(
            workdir,
            "conversations",
            "reply",
            conversation["reference"],
            "Sorry! It ships today.",
            "--no-wait",
            "--config",
            "heard.toml",
        )
        assert replied.returncode == 0, replied.stderr
        # The running server's sweep finds the queued reply in the store and sends it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the acknowledgement may arrive first
            if any(r.json["text"] == "Sorry! It ships today." for r in receiver.received):
                break
            time.sleep(0.05)
    finally:
        assert process.stop() == 0
    texts = [r.json["text"] for r in receiver.received]
    assert texts.count("Sorry! It ships today.") == 1
    assert receiver.attempts >= 3  # the first two attempts failed and were retried


@pytest.mark.slow
def test_sigkill_during_a_burst_loses_and_duplicates_nothing(workdir: Path) -> None:
    process = HeardProcess(workdir / "heard.toml", free_port(), workdir).start()
    payloads = [
        {
            "message_id": f"burst-{n}",
            "sender_id": f"+49{n % 37:04d}",
            "sender_name": f"Sender {n % 37}",
            "text": f"message {n}",
        }
        for n in range(1000)
    ]

    statuses: dict[str, int] = {}

    async def run_burst() -> None:
        results: dict[str, int] = {}
        queue_payloads = list(payloads)

        async def killer() -> None:
            # Kill once about a third of the burst has been acknowledged.
            while sum(1 for s in results.values() if s == 200) < 300:
                await asyncio.sleep(0.01)
            process.kill()

        async def sender() -> None:
            await post_all(process.base, queue_payloads, results=results)

        await asyncio.gather(sender(), killer())
        statuses.update(results)

    asyncio.run(run_burst())
    acked = {mid for mid, status in statuses.items() if status == 200}
    assert 300 <= len(acked) < 1000, "the kill must land in the middle of the burst"
    process.start()
    try:
        # A real peer retries what was not acknowledged; retrying everything proves dedupe too.
        retry = asyncio.run(post_all(process.base, payloads))
        assert set(retry.values()) == {200}
        listing = heard_cli(
            workdir,
            "conversations",
            "list",
            "--json",
            "--limit",
            "100000",
            "--config",
            "heard.toml",
        )
        assert listing.returncode == 0, listing.stderr
        stored = [
            m["external_id"]
            for c in json.loads(listing.stdout)
            for m in c["messages"]
            if m["direction"] == "in"
        ]
    finally:
        assert process.stop() == 0
    assert acked <= set(stored), "an acknowledged message was lost"
    assert len(stored) == len(set(stored)) == 1000, "a message was stored twice or lost"

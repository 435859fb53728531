"""The connector seam on its own against Dovecot: IDLE wake-ups, reconnects, close twice."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from connectors.email.config import EmailConfig
from connectors.email.connector import EmailConnector
from inbox.errors import TransientError
from tests.connectors.email.fixtures import Mailbox
from tests.connectors.email.mails import mail
from tests.servers.tcp_cut import CuttingProxy

pytestmark = pytest.mark.imap


def connector(mailbox: Mailbox, port: int | None = None, **extra: object) -> EmailConnector:
    config = EmailConfig.model_validate(
        {
            "type": "email",
            "name": "support",
            "address": "support@example.com",
            "imap": {
                "host": "127.0.0.1",
                "port": port or mailbox.server.port,
                "ssl": False,
                "username": "support",
                "password": "secret",
                "folder": mailbox.folder,
                "timeout": 10,
            },
            **extra,
        }
    )
    return EmailConnector(config)


async def test_idle_wakes_up_when_mail_arrives(mailbox: Mailbox) -> None:
    async with connector(mailbox) as email:
        first = await email.fetch(None, 10)
        assert first.messages == [] and first.next_cursor is not None
        timer = threading.Timer(0.5, mailbox.deliver, args=(mail(subject="wake up"),))
        timer.start()
        started = time.monotonic()
        await email.wait_for_news(30)
        waited = time.monotonic() - started
        timer.join()
        assert waited < 10, "IDLE did not report the new mail"
        batch = await email.fetch(first.next_cursor, 10)
        assert [m.subject for m in batch.messages] == ["wake up"]


async def test_mail_that_came_after_the_last_fetch_ends_the_wait_at_once(mailbox: Mailbox) -> None:
    async with connector(mailbox) as email:
        first = await email.fetch(None, 10)
        mailbox.deliver(mail(subject="slipped in"))  # before the wait (and its IDLE) begins
        started = time.monotonic()
        await email.wait_for_news(60)
        assert time.monotonic() - started < 5
        batch = await email.fetch(first.next_cursor, 10)
        assert [m.subject for m in batch.messages] == ["slipped in"]


async def test_a_cancelled_wait_returns_promptly(mailbox: Mailbox) -> None:
    async with connector(mailbox) as email:
        await email.fetch(None, 10)
        task = asyncio.create_task(email.wait_for_news(60))
        await asyncio.sleep(0.3)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The IDLE thread notices within its one-second check and frees the connection.
        batch = await asyncio.wait_for(email.fetch(None, 10), 5)
        assert batch.messages == []
        assert time.monotonic() - started < 5


async def test_fetch_after_a_dropped_connection_reconnects_and_resumes(mailbox: Mailbox) -> None:
    proxy = CuttingProxy("127.0.0.1", mailbox.server.port).start()
    try:
        mailbox.deliver(*(mail(subject=f"m{i}", text="x" * 4000) for i in range(6)))
        async with connector(mailbox, port=proxy.port) as email:
            first = await email.fetch(None, 2)
            assert [m.subject for m in first.messages] == ["m0", "m1"] and first.more
            proxy.stop_all_connections()
            with pytest.raises(TransientError):
                await email.fetch(first.next_cursor, 2)
            rest = []
            cursor = first.next_cursor
            while True:
                batch = await email.fetch(cursor, 2)
                rest += [m.subject for m in batch.messages]
                cursor = batch.next_cursor
                if not batch.more:
                    break
            assert rest == ["m2", "m3", "m4", "m5"]
    finally:
        proxy.stop()


async def test_idle_survives_a_lost_server_and_close_is_idempotent(mailbox: Mailbox) -> None:
    proxy = CuttingProxy("127.0.0.1", mailbox.server.port).start()
    try:
        email = connector(mailbox, port=proxy.port)
        await email.open()
        await email.fetch(None, 10)
        proxy.stop_all_connections()
        started = time.monotonic()
        await email.wait_for_news(30)  # the failure is logged and backed off, never raised
        assert time.monotonic() - started < 5
        await email.close()
        await email.close()
    finally:
        proxy.stop()


async def test_close_does_not_wait_the_whole_timeout_for_a_silent_server(
    mailbox: Mailbox,
) -> None:
    proxy = CuttingProxy("127.0.0.1", mailbox.server.port).start()
    try:
        email = connector(mailbox, port=proxy.port)
        await email.open()
        await email.fetch(None, 10)
        proxy.silent = True  # LOGOUT goes out, its answer never comes back
        started = time.monotonic()
        await email.close()
        assert time.monotonic() - started < 8  # the connection's own timeout is 10 s
    finally:
        proxy.stop()


async def test_a_fetch_repeated_from_an_older_cursor_skips_nothing(mailbox: Mailbox) -> None:
    """The store failed to save a batch, so the caller asks again from the same cursor while
    the connector has already read the following batch ahead."""
    mailbox.deliver(*(mail(subject=f"r{i}") for i in range(7)))
    async with connector(mailbox, batch_size=3) as email:
        first = await email.fetch(None, 3)
        again = await email.fetch(None, 3)
        assert [m.subject for m in again.messages] == [m.subject for m in first.messages]
        subjects, cursor = [m.subject for m in again.messages], again.next_cursor
        while True:
            batch = await email.fetch(cursor, 3)
            subjects += [m.subject for m in batch.messages]
            cursor = batch.next_cursor
            if not batch.more:
                break
        assert subjects == [f"r{i}" for i in range(7)]


async def test_batches_are_cut_to_the_byte_budget(mailbox: Mailbox) -> None:
    mailbox.deliver(*(mail(subject=f"big{i}", text="y" * 30_000) for i in range(5)))
    mailbox.deliver(mail(subject="huge", text="z" * 200_000))
    async with connector(mailbox, batch_bytes=70_000) as email:
        sizes, cursor = [], None
        while True:
            batch = await email.fetch(cursor, 100)
            sizes.append([m.subject for m in batch.messages])
            cursor = batch.next_cursor
            if not batch.more:
                break
    # Two 30 kB mails fit in 70 kB; a mail bigger than the budget still comes, alone.
    assert sizes == [["big0", "big1"], ["big2", "big3"], ["big4"], ["huge"]]


async def test_a_channel_without_imap_fetches_nothing() -> None:
    config = EmailConfig.model_validate({"type": "email", "name": "out", "address": "a@b.example"})
    async with EmailConnector(config) as email:
        batch = await email.fetch("c", 10)
        assert batch.messages == [] and batch.next_cursor == "c" and not batch.more

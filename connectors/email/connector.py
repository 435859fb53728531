"""EmailConnector: the glue between the connector seam and the IMAP, MIME and SMTP modules.

IMAP work is blocking (imapclient), so it runs in threads, one connection at a time per
purpose: reading the inbox, and appending to Sent. Nothing here persists: `fetch` returns the
messages and the cursor, and the store saves both in one transaction.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from connectors.base import Connector
from connectors.email import cursor as cursors
from connectors.email.backlog import BacklogReader, normalize_fetched
from connectors.email.compose import compose
from connectors.email.config import EmailConfig
from connectors.email.imap import ImapSession
from connectors.email.mime import MailContext
from connectors.email.smtp import send as smtp_send
from connectors.sendlog import SendLog
from inbox.errors import ChannelError, PermanentError
from inbox.types import Batch, Delivery, OutboundMessage

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTACHMENT = 25 * 1024 * 1024
IDLE_BACKOFF_MAX = 300.0

Progress = Callable[[int, int], None]


def within_budget(uids: list[int], sizes: dict[int, int], budget: int) -> list[int]:
    """The longest prefix of `uids` whose messages fit in `budget` bytes (at least one)."""
    total = 0
    for index, uid in enumerate(uids):
        total += sizes.get(uid, 0)
        if total > budget and index > 0:
            return uids[:index]
    return uids


class EmailConnector(Connector):
    kind = "email"
    config_model = EmailConfig
    pulls = True

    def __init__(self, config: Any, **options: Any) -> None:
        super().__init__(config, **options)
        self.settings = cast(EmailConfig, config)
        limit = self.settings.max_attachment_size
        if limit is None:
            limit = int(options.get("max_attachment_size") or DEFAULT_MAX_ATTACHMENT)
        self.context = MailContext(
            account=config.name,
            own_addresses=self.settings.own_addresses,
            max_attachment_size=limit,
        )
        self.since: date | None = self.settings.since
        # Called after each batch with (messages fetched now, messages still queued).
        self.progress: Progress | None = None
        self._inbox: ImapSession | None = None
        self._inbox_lock = threading.Lock()
        self._sent: ImapSession | None = None
        self._sent_lock = threading.Lock()
        self._queue: tuple[int, int, list[int]] = (0, 0, [])
        self._idle_backoff = 1.0
        self._read_up_to: tuple[int, int] = (0, 0)  # (UIDVALIDITY, last UID) of the last fetch
        self._sent_log = SendLog()
        self._reader = BacklogReader(self.context, self.settings.parse_processes)
        self._ahead: tuple[tuple[str | None, int], asyncio.Future[Batch]] | None = None

    # Receiving -----------------------------------------------------------------------------
    async def fetch(self, cursor: str | None, limit: int) -> Batch:
        """The next batch after `cursor`; while a backlog lasts the one after is read ahead.

        Reading ahead lets IMAP and parsing of batch N+1 overlap with the store saving batch N.
        A read-ahead for another cursor (the store failed and the caller starts over) is
        dropped; nothing is lost, because only the cursor saved with the messages counts.
        """
        if self.settings.imap is None:
            return Batch([], cursor)
        limit = max(1, min(limit, self.settings.batch_size))
        ahead, self._ahead = self._ahead, None
        batch: Batch | None = None
        if ahead is not None:
            key, task = ahead
            if key == (cursor, limit):
                batch = await task
            else:
                with contextlib.suppress(Exception):
                    await task
        if batch is None:
            batch = await asyncio.to_thread(self._fetch_blocking, cursor, limit)
        if batch.more and self.settings.read_ahead:
            task = asyncio.ensure_future(
                asyncio.to_thread(self._fetch_blocking, batch.next_cursor, limit)
            )
            self._ahead = ((batch.next_cursor, limit), task)
        return batch

    def _fetch_blocking(self, cursor: str | None, limit: int) -> Batch:
        with self._inbox_lock:
            try:
                return self._fetch_locked(cursors.parse(cursor), limit)
            except ChannelError:
                self._drop_inbox()  # the next call reconnects; the cursor was not advanced
                raise

    def _fetch_locked(self, state: cursors.ImapCursor, limit: int) -> Batch:
        session = self._inbox_session()
        state = state.for_folder(session.select())
        assert state.uidvalidity is not None and self.settings.imap is not None
        queued = self._queued(session, state)
        take = within_budget(
            queued[:limit], session.sizes(queued[:limit]), self.settings.batch_bytes
        )
        rest = queued[len(take) :]
        read = None
        if take and self._reader.use_workers(len(take)):
            read = self._reader.read(self.settings.imap, state.uidvalidity, take)
        if read is None:
            read = normalize_fetched(session.fetch(take), self.context)
        if self.settings.mark_seen:
            session.mark_seen([uid for uid, _ in read])
        last_uid = take[-1] if take else state.last_uid
        self._queue = (state.uidvalidity, last_uid, rest)
        self._read_up_to = (state.uidvalidity, last_uid)
        if self.progress is not None:
            self.progress(len(read), len(rest))
        next_cursor = cursors.ImapCursor(state.uidvalidity, last_uid).dump()
        return Batch([message for _, message in read], next_cursor, more=bool(rest))

    def _queued(self, session: ImapSession, state: cursors.ImapCursor) -> list[int]:
        """UIDs still to read: what the last SEARCH left, else a new SEARCH (one per backlog)."""
        validity, after, uids = self._queue
        # The cached list is every UID above `after`; it answers only for cursors at or past it.
        if validity == state.uidvalidity and uids and state.last_uid >= after:
            left = uids[bisect.bisect_right(uids, state.last_uid) :]
            if left:
                return left
        return session.uids_after(state.last_uid, self.since)

    def _inbox_session(self) -> ImapSession:
        if self._inbox is None:
            assert self.settings.imap is not None
            self._inbox = ImapSession(self.settings.imap)
        return self._inbox

    def _drop_inbox(self) -> None:
        session, self._inbox = self._inbox, None
        self._queue = (0, 0, [])
        if session is not None:
            session.close()

    async def wait_for_news(self, timeout: float) -> None:
        """IMAP IDLE (RFC 2177) until the folder changes; polling sleep when IDLE is off."""
        if self.settings.imap is None or not self.settings.idle:
            await asyncio.sleep(timeout)
            return
        stop = threading.Event()
        try:
            await asyncio.to_thread(self._idle_blocking, timeout, stop)
        finally:
            stop.set()  # a cancelled wait ends its thread within a second

    def _idle_blocking(self, timeout: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + timeout
        with self._inbox_lock:
            try:
                session = self._inbox_session()
                validity = session.select()
                # IDLE only reports what arrives after it starts: mail that came since the last
                # fetch must not wait for the next poll.
                read_validity, read_up_to = self._read_up_to
                if validity != read_validity or session.uids_after(read_up_to):
                    return
                if session.supports_idle():
                    session.idle(timeout, stop.is_set)
                    self._idle_backoff = 1.0
                    return
            except ChannelError as exc:
                self._drop_inbox()
                log.warning("IMAP IDLE on %s failed (%s); reconnecting later", self.name, exc)
                deadline = min(deadline, time.monotonic() + self._idle_backoff)
                self._idle_backoff = min(IDLE_BACKOFF_MAX, self._idle_backoff * 2)
        while not stop.is_set() and time.monotonic() < deadline:
            stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))

    # Sending -------------------------------------------------------------------------------
    async def send(self, outbound: OutboundMessage) -> Delivery:
        """Send once per idempotency key in this process; across a crash the Message-ID (derived
        from the key) stays the same, so the customer's client shows a resent mail only once."""
        smtp = self.settings.smtp
        if smtp is None:
            raise PermanentError(f"channel {self.name} has no [smtp] settings; cannot send mail")
        async with self._sent_log.hold(outbound.idempotency_key) as record:
            if record.delivery is not None:
                return record.delivery
            msg, message_id = compose(
                outbound, address=self.settings.address, display_name=self.settings.display_name
            )
            reply = await smtp_send(
                smtp, msg, sender=self.settings.address, recipients=[outbound.recipient]
            )
            record.delivery = Delivery(external_id=message_id, extras={"smtp_reply": reply[:300]})
        if self.settings.sent_folder and self.settings.imap is not None:
            try:
                await asyncio.to_thread(self._append_sent, msg.as_bytes())
            except ChannelError as exc:  # the mail went out; a missing copy must not resend it
                log.warning("could not copy sent mail to %s: %s", self.settings.sent_folder, exc)
        return record.delivery

    def _append_sent(self, raw: bytes) -> None:
        assert self.settings.imap is not None and self.settings.sent_folder is not None
        with self._sent_lock:
            if self._sent is None:
                self._sent = ImapSession(self.settings.imap)
            try:
                self._sent.append(raw, self.settings.sent_folder)
            except ChannelError:
                self._sent.close()
                self._sent = None
                raise

    # Lifecycle -----------------------------------------------------------------------------
    async def _close(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            with contextlib.suppress(Exception):
                await ahead[1]
        await asyncio.to_thread(self._close_blocking)
        await asyncio.to_thread(self._reader.close)

    def _close_blocking(self) -> None:
        with self._inbox_lock:
            self._drop_inbox()
        with self._sent_lock:
            if self._sent is not None:
                self._sent.close()
                self._sent = None

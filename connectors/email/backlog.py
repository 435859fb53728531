"""Reading a big backlog in worker processes, so the store keeps a core of its own.

A first import of a mailbox is CPU work from end to end: imaplib reads the mail line by line,
MIME parsing is pure Python, and the store saves it through SQLAlchemy. All of it holds the
GIL, so threads cannot spread it. A worker process with its own IMAP connection therefore
fetches and normalizes batch N+1 while this process stores batch N: both cores busy (issue 3
asks for exactly that), and only normalized messages cross the pipe.

Small batches, the normal trickle of new mail, are fetched and parsed in place: starting a
process for them would cost more than it saves. The first big batch is read in place too, while
the worker process starts.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import util

from connectors.email.config import ImapSettings
from connectors.email.imap import Fetched, ImapSession
from connectors.email.mime import MailContext, normalize
from inbox.errors import ChannelError, TransientError
from inbox.types import InboundMessage

log = logging.getLogger(__name__)

WORKERS_FROM = 64  # messages in one batch before worker processes are worth it
# A connection unused this long is replaced rather than trusted: a NAT or server timeout may
# have dropped it silently, and a read would then hang until the socket timeout.
REUSE_WITHIN = 300.0

Read = list[tuple[int, InboundMessage]]  # (UID, message) in UID order


def _portable(when: datetime | None) -> datetime | None:
    """The same instant with a stdlib timezone: imapclient's FixedOffset cannot be unpickled
    (its __init__ takes arguments pickle does not pass), which once broke the pool."""
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(UTC)


def normalize_fetched(fetched: Sequence[Fetched], ctx: MailContext) -> Read:
    return [(f.uid, normalize(f.raw, ctx, _portable(f.internal_date))) for f in fetched]


# In a worker process ---------------------------------------------------------------------
_session: ImapSession | None = None
_last_used = 0.0
_logout_at_exit = False


def _close_session() -> None:
    global _session
    session, _session = _session, None
    if session is not None:
        session.close()


def _selected(settings: ImapSettings) -> tuple[ImapSession, int]:
    """This worker's connection with the folder selected, and its UIDVALIDITY.

    The connection is kept between batches; one the server dropped while it sat unused is
    replaced once before giving up.
    """
    global _session, _last_used, _logout_at_exit
    if not _logout_at_exit:  # LOGOUT when the pool shuts the process down
        util.Finalize(None, _close_session, exitpriority=10)
        _logout_at_exit = True
    now = time.monotonic()
    reused = (
        _session is not None and _session.settings == settings and now - _last_used < REUSE_WITHIN
    )
    _last_used = now
    if not reused:
        _close_session()
        _session = ImapSession(settings)
    assert _session is not None
    try:
        return _session, _session.select()
    except TransientError:
        if not reused:
            raise
        _close_session()
        return _selected(settings)


def _read_job(job: tuple[ImapSettings, int, list[int], MailContext]) -> Read:
    settings, uidvalidity, uids, ctx = job
    try:
        session, validity = _selected(settings)
        if validity != uidvalidity:
            raise TransientError(
                f"UIDVALIDITY of {settings.folder} changed from {uidvalidity} to {validity} "
                "while reading it; reading again from the saved cursor"
            )
        fetched = session.fetch(uids)
    except ChannelError:
        _close_session()
        raise
    return normalize_fetched(fetched, ctx)


def _ready() -> None:
    """A no-op job: importing this module in the worker is the point."""


# In the connector's process --------------------------------------------------------------
class BacklogReader:
    """Owns the (lazily started) worker processes of one email connector."""

    def __init__(self, ctx: MailContext, processes: int = 0) -> None:
        self.ctx = ctx
        self.processes = min(processes, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.read_in_workers = 0  # mails so far, for logs and tests

    def use_workers(self, count: int) -> bool:
        """Whether to read a batch of `count` mails in the workers; starts them for the next
        batch when they are not running yet (this one is then read in place)."""
        if self.processes < 1 or count < WORKERS_FROM:
            return False
        with self._lock:
            running = self._pool is not None
        if not running:
            self._start()
        return running

    def read(self, settings: ImapSettings, uidvalidity: int, uids: Sequence[int]) -> Read | None:
        """Fetch and normalize `uids` in the workers, each its share on its own connection.

        IMAP errors are raised as they are (the caller drops its connection and retries from
        the saved cursor); a broken pool returns None and the caller reads in place from then on.
        """
        share = -(-len(uids) // self.processes)
        try:
            pool = self._workers()
            futures: list[Future[Read]] = [
                pool.submit(_read_job, (settings, uidvalidity, list(uids[i : i + share]), self.ctx))
                for i in range(0, len(uids), share)
            ]
            out: Read = []
            for future in futures:
                out.extend(future.result())
            self.read_in_workers += len(out)
            return out
        except ChannelError:
            raise
        except Exception as exc:  # a broken pool must not stop the import
            log.warning("reading mail in worker processes failed (%s); reading in place", exc)
            self.close()
            self.processes = 0
            return None

    def _start(self) -> None:
        """Start the workers now, so they import the MIME code while this process reads the
        first big batch (starting them cost that batch about half a second)."""
        try:
            pool = self._workers()
            for _ in range(self.processes):  # the pool starts one process per waiting job
                pool.submit(_ready)
        except Exception as exc:  # read() falls back to reading in place
            log.warning("could not start mail reading processes: %s", exc)
            self.processes = 0

    def _workers(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # forkserver: forking a process that runs threads (queue workers) is unsafe.
                context = multiprocessing.get_context("forkserver")
                self._pool = ProcessPoolExecutor(self.processes, mp_context=context)
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

"""Normalizing a fetched batch, in worker processes when the batch is big enough to pay.

Parsing MIME is pure Python and holds the GIL, so threads cannot spread it. While a large
backlog is imported, the store works on one batch in this process and the next batch is parsed
in another process: both cores busy (issue 3 asks for exactly that). Small batches — the normal
trickle of new mail — are parsed in place; starting processes for them would cost more.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

from connectors.email.imap import Fetched
from connectors.email.mime import MailContext, normalize
from inbox.types import InboundMessage

log = logging.getLogger(__name__)

PARALLEL_FROM = 64  # messages in one batch before worker processes are worth it


def _normalize_job(job: tuple[bytes, MailContext, datetime | None]) -> InboundMessage:
    raw, ctx, received_at = job
    return normalize(raw, ctx, received_at)


def _portable(when: datetime | None) -> datetime | None:
    """The same instant with a stdlib timezone: imapclient's FixedOffset cannot be unpickled in
    a worker process (its __init__ takes arguments pickle does not pass), which broke the pool."""
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(UTC)


def _ready() -> None:
    """A no-op job: importing this module in the worker is the point."""


class Parser:
    """Owns the (lazily started) worker processes of one connector."""

    def __init__(self, ctx: MailContext, processes: int = 0) -> None:
        self.ctx = ctx
        self.processes = min(processes, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def normalize_all(self, fetched: Sequence[Fetched]) -> list[InboundMessage]:
        if self.processes < 1 or len(fetched) < PARALLEL_FROM:
            return [normalize(f.raw, self.ctx, f.internal_date) for f in fetched]
        jobs = [(f.raw, self.ctx, _portable(f.internal_date)) for f in fetched]
        chunk = max(1, len(jobs) // (self.processes * 4))
        try:
            return list(self._workers().map(_normalize_job, jobs, chunksize=chunk))
        except Exception as exc:  # a broken pool must not stop the import: parse in place
            log.warning("parsing in worker processes failed (%s); parsing in place", exc)
            self.close()
            self.processes = 0
            return [normalize(f.raw, self.ctx, f.internal_date) for f in fetched]

    def warm(self) -> None:
        """Start the worker processes now, so they import the MIME code while IMAP still reads
        the first big batch (starting them cost the first batch about half a second)."""
        if self.processes < 1 or self._pool is not None:
            return
        try:
            self._workers().submit(_ready)
        except Exception as exc:  # normalize_all falls back to parsing in place
            log.warning("could not start parse processes: %s", exc)

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

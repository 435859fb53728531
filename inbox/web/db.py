"""Runs blocking store work off the event loop, one transaction per call.

The store is synchronous SQLAlchemy; handlers hand it a function of a session so the loop keeps
serving web chat sockets and webhooks while a query runs. Jobs the work asked for (a reply's
delivery) are enqueued only after the commit, so a rollback sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from inbox.app import Heard
from inbox.outbox import flush_enqueues

T = TypeVar("T")


async def in_transaction(heard: Heard, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with heard.sessions() as session:
            with session.begin():
                result = work(session)
            flush_enqueues(session, heard)
            return result

    return await asyncio.to_thread(run)

"""`heard run`: web server, channel pollers and the worker in one process, or any subset.

Everything runs on one asyncio loop; dramatiq worker threads hand channel calls to it. On
SIGTERM/SIGINT pollers stop first, then the web server, then the worker finishes what it holds;
work not started stays pending in the store and is picked up on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import or_, update

from inbox.app import Heard
from inbox.models import ChannelCursor, utcnow
from inbox.queue import start_queue, stop_queue
from inbox.sync import poll_channel, pull_channels
from inbox.tasks import sweep

log = logging.getLogger(__name__)

ROLES = frozenset({"web", "connectors", "worker"})
LEASE = timedelta(seconds=90)
POLL_ERROR_BACKOFF_MAX = 300.0


class Runner:
    def __init__(self, heard: Heard, roles: Iterable[str] = ROLES) -> None:
        self.heard = heard
        self.roles = frozenset(roles)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = asyncio.Event()
        self.site: web.TCPSite | None = None
        self.runner: web.AppRunner | None = None
        self.port: int | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        await self.start()
        try:
            await self.stopping.wait()
        finally:
            await self.stop()

    async def start(self) -> None:
        heard = self.heard
        start_queue(heard, worker="worker" in self.roles, loop=asyncio.get_running_loop())
        self.tasks: list[asyncio.Task[None]] = []
        if "worker" in self.roles:
            await asyncio.to_thread(sweep, heard)
            self.tasks.append(
                asyncio.create_task(self._every(heard.settings.queue.sweep_interval, "sweep"))
            )
            self.tasks.append(
                asyncio.create_task(self._every(heard.settings.queue.sla_interval, "sla_tick"))
            )
        if "web" in self.roles:
            await self._start_web()
        if "connectors" in self.roles:
            for name in pull_channels(heard):
                self.tasks.append(asyncio.create_task(self._poll_forever(name)))
            for config in heard.enabled_channels():
                connector = heard.connector(config.name)
                if connector.pushes:
                    try:
                        opened = await heard.channels.connector(config.name)
                        await opened.on_start(heard.settings.web.public_url)
                    except Exception:
                        log.exception("start of channel %s failed", config.name)

    async def _start_web(self) -> None:
        from inbox.web.app import make_app

        settings = self.heard.settings.web
        self.runner = web.AppRunner(make_app(self.heard), handle_signals=False, access_log=None)
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, settings.host, settings.port)
        await self.site.start()
        server = self.site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else settings.port
        log.info("web server on http://%s:%s/", settings.host, self.port)

    async def _every(self, seconds: float, actor: str) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)
            if not self.stopping.is_set() and self.heard.queue is not None:
                self.heard.queue.enqueue(actor)

    async def _poll_forever(self, name: str) -> None:
        """Poll one channel while this process holds its lease; back off on errors."""
        heard = self.heard
        config = heard.channel_config(name)
        failures = 0
        while not self.stopping.is_set():
            delay = config.poll_interval
            try:
                if await asyncio.to_thread(self._take_lease, name):
                    connector = await heard.channels.connector(name)
                    await poll_channel(heard, connector)
                    failures = 0
                    wait = asyncio.create_task(connector.wait_for_news(config.poll_interval))
                    stop = asyncio.create_task(self.stopping.wait())
                    await asyncio.wait({wait, stop}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (wait, stop):
                        task.cancel()
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                retry_after = getattr(exc, "retry_after", None)
                delay = retry_after or min(
                    POLL_ERROR_BACKOFF_MAX, config.poll_interval * 2**failures
                )
                log.warning("polling %s failed (%s); next try in %.0fs", name, exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    def _take_lease(self, account: str) -> bool:
        """Each channel account is polled by exactly one process: a lease row in the store."""
        now = utcnow()
        with self.heard.sessions() as session, session.begin():
            if session.get(ChannelCursor, account) is None:
                session.add(ChannelCursor(account=account, cursor=None))
                session.flush()
            result = session.execute(
                update(ChannelCursor)
                .where(
                    ChannelCursor.account == account,
                    or_(
                        ChannelCursor.lease_owner.is_(None),
                        ChannelCursor.lease_owner == self.owner,
                        ChannelCursor.lease_until < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + LEASE)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def stop(self) -> None:
        self.stopping.set()
        for task in getattr(self, "tasks", []):
            task.cancel()
        for task in getattr(self, "tasks", []):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        heard = self.heard
        if heard.queue is not None:
            await asyncio.to_thread(heard.queue.close)
            heard.queue = None
        if heard.channels is not None:
            await heard.channels.aclose()
            heard.channels = None
        await asyncio.to_thread(self._release_leases)
        stop_queue(heard)

    def _release_leases(self) -> None:
        with self.heard.sessions() as session, session.begin():
            session.execute(
                update(ChannelCursor)
                .where(ChannelCursor.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

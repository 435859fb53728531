"""Failed sign-ins are rate limited per login name and per client address."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from aiohttp import web


class LoginLimiter:
    """Counts failed logins per name and per client address in a sliding window.

    Kept in memory: a web process sees its own clients, and a restart forgetting failures is an
    acceptable price for not writing on every failed attempt.
    """

    def __init__(
        self,
        per_login: int = 5,
        per_address: int = 20,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limits = {"login": per_login, "address": per_address}
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, login: str, address: str) -> float:
        """Seconds to wait before another try is allowed; 0 when one is allowed now."""
        wait = 0.0
        for kind, value in (("login", login.lower()), ("address", address)):
            times = self._recent((kind, value))
            if len(times) >= self.limits[kind]:
                wait = max(wait, times[0] + self.window - self.clock())
        return wait

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._forget_old()
        for key in (("login", login.lower()), ("address", address)):
            self._failures.setdefault(key, deque()).append(now)

    def _forget_old(self) -> None:
        """Drop expired entries, so guessing random names cannot grow memory without bound."""
        for key in list(self._failures):
            if not self._recent(key):
                del self._failures[key]

    def succeeded(self, login: str) -> None:
        self._failures.pop(("login", login.lower()), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] + self.window <= self.clock():
            times.popleft()
        return times


LIMITER_KEY = web.AppKey("heard_login_limiter", LoginLimiter)


def client_address(request: web.Request) -> str:
    """The client's address; behind a reverse proxy on this host, the one the proxy saw.

    Only a loopback peer is trusted to say who it forwards for (its rightmost X-Forwarded-For
    entry is the one it added itself), so a remote client cannot pick its own address, and all
    users behind a local proxy do not share one failed-login budget.
    """
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and peer in ("127.0.0.1", "::1"):
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return peer
